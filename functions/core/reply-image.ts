/**
 * An image that goes with a reply (a data skill's chart): posted to the chat after the reply's text, on platforms
 * that can post images, and left out where they cannot — the text is the complete answer alone (a chart repeats the
 * numbers of the table above it). Never part of the FAQ cache or the conversation context.
 *
 * Only PNG, checked before anything posts it: the signature, an `IHDR` first chunk with dimensions within
 * `MAX_REPLY_IMAGE_SIDE`, and the `IEND` chunk last (a truncated file is refused).
 */
export interface ReplyImage {
  readonly mediaType: 'image/png';
  /** The decoded file. */
  readonly data: Uint8Array;
  /** What the image shows, one line of plain text: the platforms' alt text or title, and the caption where none. */
  readonly alt: string;
  readonly width: number;
  readonly height: number;
}

/** The longest side of an image GroupGate posts, pixels (Feishu takes up to 12000, Slack shows less at once). */
export const MAX_REPLY_IMAGE_SIDE = 4096;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** Length 0, type `IEND`, its fixed CRC. */
const PNG_IEND = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82] as const;
/** Signature, IHDR (length, type, 13 bytes of data, CRC) and IEND: the smallest file that can be whole. */
const MIN_PNG_BYTES = 8 + 8 + 13 + 4 + 12;

export type PngCheck =
  | { readonly ok: true; readonly width: number; readonly height: number }
  | { readonly ok: false; readonly reason: 'not_png' | 'dimensions' };

/** Whether `bytes` is a whole PNG file of acceptable dimensions, and which. Reads headers only, never pixels. */
export function checkPng(bytes: Uint8Array): PngCheck {
  if (bytes.length < MIN_PNG_BYTES || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    return { ok: false, reason: 'not_png' };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdrType = String.fromCharCode(...bytes.subarray(12, 16));
  if (view.getUint32(8) !== 13 || ihdrType !== 'IHDR') return { ok: false, reason: 'not_png' };
  const tail = bytes.subarray(bytes.length - PNG_IEND.length);
  if (PNG_IEND.some((b, i) => tail[i] !== b)) return { ok: false, reason: 'not_png' };
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width < 1 || height < 1 || width > MAX_REPLY_IMAGE_SIDE || height > MAX_REPLY_IMAGE_SIDE) {
    return { ok: false, reason: 'dimensions' };
  }
  return { ok: true, width, height };
}

/** Why one image of a reply was not posted (logged with the reply; the text went out regardless). */
export interface ImageDeliveryFailure {
  /** The image's position in the reply's list. */
  readonly index: number;
  /** The platform call that failed and how (status, platform code): no image data, no token. */
  readonly reason: string;
}
