import { GroupGateError } from '#core/errors';

/** Why a voice message could not become text, or an answer could not become speech. */
export type VoiceErrorCode =
  /** Longer than the configured cap (`VOICE_MAX_SECONDS`), found from the container's headers before decoding. */
  | 'too_long'
  /** The bytes are not the container they claim to be, or are cut short. */
  | 'corrupt'
  /** A container or codec no engine here decodes (MP3, AMR, Vorbis for ASR, 24-bit WAV, …). */
  | 'unsupported_codec'
  /** The engine is missing (a Debian package not installed) or its service refused or failed. */
  | 'unavailable'
  /** The engine did not finish within its time limit, or the turn's deadline aborted it. */
  | 'timeout';

/**
 * A voice failure with a stable `code` and a message safe to show the member (never engine output or credentials).
 * The worker answers it with a clear reply; the member's message is kept, never dropped.
 */
export class VoiceError extends GroupGateError {
  readonly httpStatus: number;
  constructor(
    readonly code: VoiceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.httpStatus = code === 'unavailable' ? 503 : code === 'timeout' ? 504 : 422;
  }
}
