import { PlatformApiError } from '#core/errors';
import type { SpokenReply } from '#platforms/types';
import {
  type DingTalkHandle,
  type DingTalkMediaContext,
  requireDirectRecipient,
  sendDingTalkRobotMessage,
  uploadDingTalkMedia,
} from './upload-image';

/**
 * DingTalk's limits for a `voice` upload: 2 MB and 60 s of playback (the media upload reference; the robot's
 * `sampleAudio` page names no other). Checked before the upload, so an answer over them is refused with its reason
 * instead of an opaque `errcode`.
 */
export const DINGTALK_VOICE_MAX_BYTES = 2 * 1024 * 1024;
export const DINGTALK_VOICE_MAX_SECONDS = 60;

/**
 * Posts a spoken answer (Ogg/Opus) into the reply's conversation as a robot voice message:
 * 1. `POST {oapi}/media/upload?type=voice`, multipart `media` = `answer.ogg` (`audio/ogg`) → `media_id`;
 * 2. the robot message API with `msgKey: sampleAudio` and `msgParam` `{"mediaId": media_id, "duration": "<ms>"}`
 *    (a string), to the group or, in a 1:1 chat, to the sender's staff id.
 * That DingTalk takes Ogg (as well as AMR) for a robot voice message is what DingTalk's own connector
 * (DingTalk-Real-AI/dingtalk-openclaw-connector) documents for audio; the older media reference lists AMR only for
 * `voice`. Not verified against a live tenant [U]. Like images, the voice message follows the text, unlinked.
 * @returns the message's `processQueryKey`.
 * @throws PlatformApiError when the answer is over DingTalk's limits, or a step is refused or its retries run out.
 */
export async function postDingTalkAudio(
  handle: DingTalkHandle,
  speech: SpokenReply,
  context: DingTalkMediaContext,
): Promise<string> {
  requireDirectRecipient(handle, 'voice message');
  if (speech.bytes.byteLength === 0) {
    throw new PlatformApiError('DingTalk voice message is empty; not posted', 0, '');
  }
  if (speech.bytes.byteLength > DINGTALK_VOICE_MAX_BYTES) {
    throw new PlatformApiError(
      `DingTalk voice message is ${speech.bytes.byteLength} bytes; DingTalk takes at most ${DINGTALK_VOICE_MAX_BYTES}; not posted`,
      0,
      '',
    );
  }
  if (speech.durationSeconds > DINGTALK_VOICE_MAX_SECONDS) {
    throw new PlatformApiError(
      `DingTalk voice message is ${speech.durationSeconds.toFixed(1)} s; DingTalk plays at most ${DINGTALK_VOICE_MAX_SECONDS} s ` +
        '(lower VOICE_MAX_SPEECH_CHARS); not posted',
      0,
      '',
    );
  }
  const mediaId = await uploadDingTalkMedia(
    { type: 'voice', bytes: speech.bytes, mediaType: 'audio/ogg', fileName: 'answer.ogg' },
    context,
  );
  const duration = String(Math.max(1, Math.round(speech.durationSeconds * 1000)));
  return sendDingTalkRobotMessage(handle, 'sampleAudio', { mediaId, duration }, context);
}
