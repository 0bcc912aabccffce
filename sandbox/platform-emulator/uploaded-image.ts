import { checkPng } from '#core/reply-image';
import type { EmulatedApiRequest, EmulatedImage } from './types';

/**
 * What the emulators keep of an image the bot uploaded, so the page can show it: the file (base64), its alt text and
 * dimensions. Undefined for a file that is not a whole PNG (the emulated platforms take other files; the page shows
 * only PNG charts).
 */
export function storedImage(bytes: Uint8Array, alt: string): EmulatedImage | undefined {
  const png = checkPng(bytes);
  if (!png.ok) return undefined;
  return {
    mediaType: 'image/png',
    data: Buffer.from(bytes).toString('base64'),
    alt,
    width: png.width,
    height: png.height,
  };
}

/** The request's `multipart/form-data` body, parsed as a server would; undefined when it is not one or is malformed. */
export async function multipartForm(request: EmulatedApiRequest): Promise<FormData | undefined> {
  const type = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  if (!/^multipart\/form-data;\s*boundary=/i.test(type)) return undefined;
  try {
    return await new Response(new Uint8Array(request.body), { headers: { 'content-type': type } }).formData();
  } catch {
    return undefined;
  }
}
