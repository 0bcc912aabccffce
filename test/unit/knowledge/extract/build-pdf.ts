/**
 * Minimal, valid PDFs for tests, written by hand: one Helvetica text object per page, an Info dictionary, and a
 * correct cross-reference table. `encryptedWithPassword` adds a Standard security handler (RC4, revision 2) whose
 * password check no empty password passes, so PDF.js asks for one (PasswordException).
 */

export interface PdfSpec {
  /** Each page's lines of text; an empty array is a page with no text layer (like a scan). */
  readonly pages: readonly (readonly string[])[];
  readonly title?: string;
  readonly encryptedWithPassword?: boolean;
}

function pdfString(text: string): string {
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

function contentStream(lines: readonly string[]): string {
  const ops = lines.map((line, i) => `${i === 0 ? '72 720 Td' : '0 -18 Td'} ${pdfString(line)} Tj`);
  return lines.length === 0 ? '' : `BT /F1 12 Tf ${ops.join(' ')} ET`;
}

export function buildPdf(spec: PdfSpec): Uint8Array {
  const objects: string[] = []; // objects[n - 1] is object n's body
  const add = (body: string) => objects.push(body);
  add('<< /Type /Catalog /Pages 2 0 R >>');
  add(''); // 2: the page tree, written once the pages are numbered
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  const pageRefs: string[] = [];
  for (const lines of spec.pages) {
    const stream = contentStream(lines);
    add(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
    const contents = objects.length;
    add(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${contents} 0 R >>`,
    );
    pageRefs.push(`${objects.length} 0 R`);
  }
  objects[1] = `<< /Type /Pages /Kids [${pageRefs.join(' ')}] /Count ${pageRefs.length} >>`;
  add(spec.title === undefined ? '<< /Producer (test) >>' : `<< /Title ${pdfString(spec.title)} >>`);
  const info = objects.length;
  let trailerExtra = '';
  if (spec.encryptedWithPassword === true) {
    const hash = 'A5'.repeat(32);
    add(`<< /Filter /Standard /V 1 /R 2 /Length 40 /O <${hash}> /U <${hash}> /P -4 >>`);
    trailerExtra = ` /Encrypt ${objects.length} 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]`;
  }

  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${info} 0 R${trailerExtra} >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(pdf); // ASCII only: string offsets are byte offsets
}
