import type { AdapterDeps, SpokenReply } from '#platforms/types';
import { postSlackFile, type SlackImagePlace } from './upload-image';

/** What the spoken answer's file message is titled in the channel. */
export const SLACK_SPEECH_TITLE = 'Spoken answer';

/**
 * Posts a spoken answer (Ogg/Opus) as a shared `answer.ogg` file in the reply's place, the external upload that charts
 * use (`postSlackFile`; scope `files:write`). Slack has no voice-message API for apps: a shared audio file is what
 * its clients play, and Slack derives the file's type from its name. That its clients show the inline player for
 * Ogg/Opus (rather than a download card) is not verified [U]; the file plays in any browser that plays Ogg/Opus. Slack's
 * own size limit (1 GB, a workspace may set less) is far above a spoken answer; a refusal
 * (`file_upload_size_restricted`) is a `PlatformApiError`.
 * @returns the file id.
 * @throws PlatformApiError when a step is refused or its retries run out.
 */
export function postSlackAudio(
  apiBaseUrl: string,
  botToken: string,
  place: SlackImagePlace,
  speech: SpokenReply,
  deps: AdapterDeps,
): Promise<string> {
  return postSlackFile(
    apiBaseUrl,
    botToken,
    place,
    { filename: 'answer.ogg', bytes: speech.bytes, title: SLACK_SPEECH_TITLE },
    deps,
  );
}
