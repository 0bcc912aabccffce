import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The programs the local voice engines run (functions/voice/local-asr.ts, local-tts.ts), and where they come from. */
const VOICE_TOOLS = ['pocketsphinx_continuous', 'opusdec', 'espeak-ng'] as const;
export const VOICE_PACKAGES = 'espeak-ng pocketsphinx pocketsphinx-en-us opus-tools';

/** The voice tools not on `PATH`; the sandbox still starts, and a voice message is answered with the install hint. */
export function missingVoiceTools(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return VOICE_TOOLS.filter(
    (tool) =>
      !dirs.some((dir) => {
        try {
          accessSync(path.join(dir, tool), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}
