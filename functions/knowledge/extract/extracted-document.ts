export type DocumentFormat = 'markdown' | 'text' | 'pdf' | 'docx';

export interface ExtractedDocument {
  readonly format: DocumentFormat;
  /**
   * Markdown: '#'-headings where the source has headings (DOCX Heading 1..6 and Title styles, Markdown as is), PDF
   * pages as '## Page N' sections, plain text as is. Text that is not a heading in the source never reads as one:
   * a line of plain text, PDF text or a DOCX paragraph starting with '#', ``` or ~~~ is escaped with a backslash.
   * When a PDF or DOCX has a title but no H1 of its own, the markdown starts with '# <title>', so chunkMarkdown's
   * title is the document's title. LF line ends.
   */
  readonly markdown: string;
  /** The document's own title when it has one (Markdown's first H1, DOCX first Title/Heading 1 paragraph else core
   *  title, PDF Info Title), else undefined. */
  readonly title?: string;
  /** PDF only: the document's page count (pages without text included). */
  readonly pages?: number;
}
