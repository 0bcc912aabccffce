import type { ImageDeliveryFailure, ReplyImage } from '#core/reply-image';
import type { SendResult } from '#platforms/types';

/**
 * Posts a reply's images one at a time after its text, with `post` (the adapter's upload and message calls, which
 * retry on their own). A failed image is recorded and the next one is still tried: an image never fails the reply
 * whose text is already out (`OutgoingReply.images`).
 * @param post resolves to the platform's id of the message (or file) now showing the image.
 */
export async function postReplyImages(
  images: readonly ReplyImage[] | undefined,
  post: (image: ReplyImage, index: number) => Promise<string>,
): Promise<{ readonly messageIds: string[]; readonly failures: ImageDeliveryFailure[] }> {
  const messageIds: string[] = [];
  const failures: ImageDeliveryFailure[] = [];
  for (const [index, image] of (images ?? []).entries()) {
    try {
      messageIds.push(await post(image, index));
    } catch (err) {
      failures.push({ index, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { messageIds, failures };
}

/** The text's result followed by its images': message ids in posting order, failures only when there are some. */
export function withImages(
  text: SendResult,
  images: { readonly messageIds: readonly string[]; readonly failures: readonly ImageDeliveryFailure[] },
): SendResult {
  const failures = [...(text.imageFailures ?? []), ...images.failures];
  return {
    messageIds: [...text.messageIds, ...images.messageIds],
    ...(failures.length > 0 ? { imageFailures: failures } : {}),
  };
}
