import { AttachmentError, cleanFileName, fetchCapped, messageFor } from '#platforms/shared/download';
import { isRecord } from '#platforms/shared/json-body';
import {
  type AdapterDeps,
  type DownloadedFile,
  type DownloadOptions,
  MAX_MESSAGE_ATTACHMENTS,
  type MessageAttachment,
} from '#platforms/types';

/**
 * Files shared with a Slack message. A `message` event with subtype `file_share` (and an `app_mention` for such a
 * message) carries `files`: file objects whose `url_private_download` the bot GETs with its token
 * (`Authorization: Bearer xoxb-…`, scope `files:read`). Files Slack only names (Slack Connect's
 * `file_access: "check_file_info"`, `hidden_by_limit` on free workspaces) have no URL and are skipped: reading them
 * needs `files.info` first, which is not done.
 */

/** Where Slack serves files; the bot token is sent to no other origin but the configured API's (the sandbox). */
export const SLACK_FILES_ORIGIN = 'https://files.slack.com';

/** The downloadable files of an event's `files`, at most `MAX_MESSAGE_ATTACHMENTS`. */
export function slackAttachments(files: unknown): MessageAttachment[] {
  if (!Array.isArray(files)) return [];
  return files
    .flatMap((file): MessageAttachment[] => {
      if (!isRecord(file) || typeof file.url_private_download !== 'string' || file.url_private_download === '') {
        return [];
      }
      const size = typeof file.size === 'number' && file.size >= 0 ? file.size : undefined;
      const name = typeof file.name === 'string' ? file.name : typeof file.title === 'string' ? file.title : undefined;
      // Audio (a clip recorded in Slack, an uploaded recording) is a voice message: the worker transcribes it.
      const audio = typeof file.mimetype === 'string' && file.mimetype.toLowerCase().startsWith('audio/');
      return [
        {
          kind: audio ? 'audio' : 'file',
          name: cleanFileName(name),
          ...(size === undefined ? {} : { size }),
          ref: file.url_private_download,
        },
      ];
    })
    .slice(0, MAX_MESSAGE_ATTACHMENTS);
}

/**
 * Downloads a file `slackAttachments` named, with the bot token, only from `files.slack.com` or the configured API
 * origin (the event is signed, but the token must never follow a URL elsewhere). Slack answers a request it does
 * not authorise (no `files:read`) with a redirect to its sign-in page: `forbidden`.
 * @throws AttachmentError
 */
export async function downloadSlackFile(
  attachment: MessageAttachment,
  options: DownloadOptions,
  context: { readonly apiBaseUrl: string; readonly botToken: string; readonly deps: Pick<AdapterDeps, 'fetch'> },
): Promise<DownloadedFile> {
  const url = URL.canParse(attachment.ref) ? new URL(attachment.ref) : undefined;
  const allowed = new Set([SLACK_FILES_ORIGIN, new URL(context.apiBaseUrl).origin]);
  if (url === undefined || !allowed.has(url.origin) || url.username !== '' || url.password !== '') {
    throw new AttachmentError('unsupported', messageFor('unsupported', attachment.name));
  }
  const bytes = await fetchCapped(
    context.deps.fetch,
    {
      url: url.href,
      headers: { authorization: `Bearer ${context.botToken}` },
      name: attachment.name,
      redirect: 'forbidden',
    },
    options,
  );
  return { name: attachment.name, bytes };
}
