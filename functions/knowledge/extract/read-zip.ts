import { Inflate } from 'fflate';
import type { Deadline } from './deadline';
import { DocumentRejected, messageOf } from './document-rejected';
import { describeBytes, type ExtractLimits, MIB } from './extract-limits';

/**
 * A zip archive read defensively: the central directory is parsed and judged (entry count, declared sizes,
 * compression ratios) before a single byte is inflated, and inflating is capped at each entry's declared size,
 * because the directory can lie. ZIP64, multi-disk and zip-encrypted archives are refused: a document within the
 * limits never needs them.
 */

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_LENGTH = 22;
const MAX_COMMENT_LENGTH = 0xffff;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_LENGTH = 46;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_LENGTH = 30;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
/** Ratios are judged only for entries above this size: small XML parts legitimately compress very well. */
const RATIO_CHECK_MIN_BYTES = MIB;
/** Compressed bytes fed to the inflater at a time: bounds one step's output (deflate expands at most ~1032×). */
const INFLATE_STEP = 4096;

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04] as const;

class ZipReader {
  private readonly view: DataView;

  constructor(
    private readonly key: string,
    private readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  corrupt(what: string): DocumentRejected {
    return new DocumentRejected('corrupt', this.key, `${this.key}: not a readable zip archive: ${what}`);
  }

  u16(at: number): number {
    if (at < 0 || at + 2 > this.bytes.byteLength) throw this.corrupt('a header runs past the end of the file');
    return this.view.getUint16(at, true);
  }

  u32(at: number): number {
    if (at < 0 || at + 4 > this.bytes.byteLength) throw this.corrupt('a header runs past the end of the file');
    return this.view.getUint32(at, true);
  }

  slice(at: number, length: number): Uint8Array {
    if (at < 0 || length < 0 || at + length > this.bytes.byteLength) {
      throw this.corrupt('an entry runs past the end of the file');
    }
    return this.bytes.subarray(at, at + length);
  }

  /** Offset of the end-of-central-directory record: the last signature that leaves room for its comment. */
  endOfCentralDirectory(): number {
    const last = this.bytes.byteLength - EOCD_LENGTH;
    for (let at = last; at >= 0 && at >= last - MAX_COMMENT_LENGTH; at--) {
      if (
        this.view.getUint32(at, true) === EOCD_SIGNATURE &&
        at + EOCD_LENGTH + this.u16(at + 20) <= this.bytes.length
      ) {
        return at;
      }
    }
    throw this.corrupt('no end of central directory record');
  }
}

/**
 * The archive's entries from its central directory, after judging them against the limits: more than maxZipEntries,
 * declared sizes summing over maxUncompressedBytes, or an entry over 1 MiB compressed more than maxCompressionRatio
 * times → 'zip_bomb'. Nothing is inflated.
 */
export function readZipDirectory(key: string, bytes: Uint8Array, limits: ExtractLimits): ZipEntry[] {
  const zip = new ZipReader(key, bytes);
  const eocd = zip.endOfCentralDirectory();
  if (eocd >= 20 && zip.u32(eocd - 20) === ZIP64_LOCATOR_SIGNATURE) throw zip.corrupt('ZIP64 is not supported');
  if (zip.u16(eocd + 4) !== 0 || zip.u16(eocd + 6) !== 0) throw zip.corrupt('multi-disk archives are not supported');
  const count = zip.u16(eocd + 10);
  const directorySize = zip.u32(eocd + 12);
  const directoryOffset = zip.u32(eocd + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw zip.corrupt('ZIP64 is not supported');
  if (count > limits.maxZipEntries) {
    throw new DocumentRejected(
      'zip_bomb',
      key,
      `${key}: ${count} zip entries, more than the limit of ${limits.maxZipEntries}`,
    );
  }
  if (directoryOffset + directorySize > eocd) throw zip.corrupt('the central directory overlaps its end record');

  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let declaredTotal = 0;
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (zip.u32(at) !== CENTRAL_HEADER_SIGNATURE) throw zip.corrupt(`central directory entry ${i + 1} is damaged`);
    const flags = zip.u16(at + 8);
    const method = zip.u16(at + 10);
    const compressedSize = zip.u32(at + 20);
    const uncompressedSize = zip.u32(at + 24);
    const nameLength = zip.u16(at + 28);
    const extraLength = zip.u16(at + 30);
    const commentLength = zip.u16(at + 32);
    const localHeaderOffset = zip.u32(at + 42);
    const rawName = zip.slice(at + CENTRAL_HEADER_LENGTH, nameLength);
    // Names without the UTF-8 flag are CP437; the parts a DOCX needs are ASCII, so latin1 reads them right.
    const name = new TextDecoder((flags & FLAG_UTF8_NAME) !== 0 ? 'utf-8' : 'latin1').decode(rawName);
    at += CENTRAL_HEADER_LENGTH + nameLength + extraLength + commentLength;

    if (compressedSize === 0xffffffff || uncompressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      throw zip.corrupt('ZIP64 is not supported');
    }
    if ((flags & FLAG_ENCRYPTED) !== 0) {
      throw new DocumentRejected('encrypted', key, `${key}: zip entry ${name} is encrypted`);
    }
    if (names.has(name)) throw zip.corrupt(`entry ${name} appears twice`);
    names.add(name);
    if (uncompressedSize > RATIO_CHECK_MIN_BYTES) {
      const ratio = uncompressedSize / Math.max(compressedSize, 1);
      if (ratio > limits.maxCompressionRatio) {
        throw new DocumentRejected(
          'zip_bomb',
          key,
          `${key}: zip entry ${name} declares ${describeBytes(uncompressedSize)} from ${describeBytes(compressedSize)}, a compression ratio of ${Math.round(ratio)}, more than the limit of ${limits.maxCompressionRatio}`,
        );
      }
    }
    declaredTotal += uncompressedSize;
    if (declaredTotal > limits.maxUncompressedBytes) {
      throw new DocumentRejected(
        'zip_bomb',
        key,
        `${key}: zip entries declare more than ${describeBytes(declaredTotal)} uncompressed, more than the limit of ${describeBytes(limits.maxUncompressedBytes)}`,
      );
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset });
  }
  return entries;
}

/**
 * One entry's bytes, inflated with a cap: more output than the entry declared → 'zip_bomb' (the directory lied),
 * less or a broken stream → 'corrupt'. Checks the deadline between steps.
 */
export function inflateZipEntry(key: string, bytes: Uint8Array, entry: ZipEntry, deadline: Deadline): Uint8Array {
  const zip = new ZipReader(key, bytes);
  const local = entry.localHeaderOffset;
  if (zip.u32(local) !== LOCAL_HEADER_SIGNATURE) throw zip.corrupt(`the local header of ${entry.name} is damaged`);
  const dataStart = local + LOCAL_HEADER_LENGTH + zip.u16(local + 26) + zip.u16(local + 28);
  const data = zip.slice(dataStart, entry.compressedSize);

  if (entry.method === METHOD_STORED) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw zip.corrupt(`stored entry ${entry.name} has different compressed and uncompressed sizes`);
    }
    return data.slice();
  }
  if (entry.method !== METHOD_DEFLATED) {
    throw zip.corrupt(`entry ${entry.name} uses compression method ${entry.method}; only deflate is supported`);
  }

  const out = new Uint8Array(entry.uncompressedSize);
  let written = 0;
  let overflow = false;
  let ended = false;
  const inflater = new Inflate((chunk, final) => {
    if (written + chunk.length > out.length) overflow = true;
    else out.set(chunk, written);
    written += chunk.length;
    if (final) ended = true;
  });
  let from = 0;
  do {
    const to = Math.min(from + INFLATE_STEP, data.length);
    try {
      inflater.push(data.subarray(from, to), to === data.length);
    } catch (error) {
      throw zip.corrupt(`entry ${entry.name} does not inflate: ${messageOf(error)}`);
    }
    if (overflow) {
      throw new DocumentRejected(
        'zip_bomb',
        key,
        `${key}: zip entry ${entry.name} inflates to more than the ${describeBytes(entry.uncompressedSize)} it declares`,
      );
    }
    deadline.check();
    from = to;
  } while (from < data.length);
  if (!ended || written !== entry.uncompressedSize) {
    throw zip.corrupt(
      `entry ${entry.name} inflates to ${describeBytes(written)}, not the ${describeBytes(entry.uncompressedSize)} it declares`,
    );
  }
  return out;
}
