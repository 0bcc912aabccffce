import { speaksTo, type VoiceConfig } from '#config/voice-config';
import type { PipelineOutcome, TurnInput } from '#core/answer-pipeline';
import type { InvocationUsage } from '#core/cost/cost-model';
import type { QueuedEvent } from '#core/queue-message';
import { AttachmentError } from '#platforms/shared/download';
import type { ChatPlatform, MessageAttachment } from '#platforms/types';
import type { SpeechToText, SynthesizedAudio, TextToSpeech, VoiceLanguage } from '#voice/ports';
import { VoiceError } from '#voice/voice-error';
import { type AsrUsage, transcribeVoiceMessage } from '#voice/voice-turn';

/**
 * The worker's voice step (docs/VOICE.md), between the claim and the answering pipeline: a message whose question is
 * a voice message (an `audio` attachment and no typed text) is transcribed through the ASR port, and the transcript
 * becomes the member's text, so the same skills, content filter, PII masking, context, cache and model apply to it.
 * A message with typed text is answered from the text; its audio is not transcribed. A voice message that cannot be
 * understood is answered with one note saying why (`VOICE_NOTES`), never dropped.
 */

export interface VoiceStepDeps {
  readonly platform: Pick<ChatPlatform, 'downloadAttachment'>;
  /** Absent: `VOICE_ASR=off`, every voice message gets the "cannot listen yet" note. */
  readonly asr?: SpeechToText;
  readonly config: Pick<VoiceConfig, 'maxSeconds' | 'languages'>;
  /** The pipeline's PII masker: the transcript shown back to the member is masked as the stored question is. */
  readonly maskPii: (text: string) => { readonly text: string };
  readonly now: () => number;
}

export interface AnsweredTurn {
  readonly outcome: PipelineOutcome;
  /** The answer without what was heard before it: what a spoken answer says. */
  readonly answer: string;
  /** What ASR did, for the ledger row's `voice.asr`; absent when nothing was transcribed. */
  readonly asr?: AsrUsage;
}

/** The audio the event's question is in, when it is a voice message without typed text. */
export function voiceQuestionOf(event: QueuedEvent): MessageAttachment | undefined {
  if (event.text.trim() !== '') return undefined;
  return event.message.attachments?.find((attachment) => attachment.kind === 'audio');
}

/**
 * Answers `input` through `run` (the pipeline), transcribing the event's voice message first when it has one. The
 * reply then opens with what was heard (`🎤 …`, PII masked), so the member sees the question the bot answered; the
 * context and the cache keep the answer alone.
 */
export async function answerWithVoice(
  event: QueuedEvent,
  input: TurnInput,
  run: (input: TurnInput) => Promise<PipelineOutcome>,
  deps: VoiceStepDeps,
): Promise<AnsweredTurn> {
  const audio = voiceQuestionOf(event);
  if (audio === undefined) {
    const outcome = await run(input);
    return { outcome, answer: outcome.reply };
  }
  const heard = await transcribeVoiceMessage(
    {
      name: audio.name,
      download: async (options) => {
        if (deps.platform.downloadAttachment === undefined) {
          throw new AttachmentError('unsupported', 'the bot cannot download voice messages on this platform');
        }
        return (await deps.platform.downloadAttachment(audio, options)).bytes;
      },
    },
    {
      ...(deps.asr ? { asr: deps.asr } : {}),
      maxSeconds: deps.config.maxSeconds,
      languages: deps.config.languages,
      deadline: input.deadline,
      now: deps.now,
    },
  );
  if (heard.kind === 'note') {
    const outcome = voiceNoteOutcome(heard.note);
    return { outcome, answer: outcome.reply, ...(heard.usage ? { asr: heard.usage } : {}) };
  }
  const shown = `🎤 ${deps.maskPii(heard.text).text}\n\n`;
  const onVisibleText = input.onVisibleText;
  const outcome = await run({
    ...input,
    text: heard.text,
    ...(onVisibleText ? { onVisibleText: (text: string) => onVisibleText(shown + text) } : {}),
  });
  // A refused question is not repeated back to the group.
  const reply = outcome.source === 'blocked_input' ? outcome.reply : shown + outcome.reply;
  return { outcome: { ...outcome, reply }, answer: outcome.reply, asr: heard.usage };
}

/** A spoken answer ready to post, and what synthesising it costs (the ledger row's `voice.tts`). */
export interface SpokenAnswer {
  readonly audio: SynthesizedAudio;
  readonly usage: NonNullable<NonNullable<InvocationUsage['voice']>['tts']>;
}

export interface SpeakDeps {
  readonly tts?: TextToSpeech;
  readonly config: VoiceConfig;
  readonly platform: Pick<ChatPlatform, 'name' | 'sendSpeech'>;
  readonly chatId: string;
  /** Told why an answer was not spoken (the text is out either way): a `VoiceError`, or an engine's bug. */
  readonly onError: (error: Error) => void;
}

/** Answers that are spoken; notes (a refusal, the apology, an empty question, a voice note) are not. */
const SPOKEN_SOURCES: ReadonlySet<PipelineOutcome['source']> = new Set(['model', 'cache', 'skill', 'command']);

/**
 * The answer as speech, for a chat that opted in (`VOICE_REPLY_CHATS`) on a platform with audio messages: synthesised
 * alongside the text's send, in Ogg/Opus (what Feishu audio messages take), in the answer's language (Chinese when it
 * has CJK characters and the deployment speaks it, else the first configured language). Resolves to undefined when the
 * chat does not get speech or synthesis failed (`onError`); never rejects, so a spoken answer never affects the text.
 */
export async function speakAnswer(
  answer: string,
  source: PipelineOutcome['source'],
  deps: SpeakDeps,
): Promise<SpokenAnswer | undefined> {
  const { tts, config } = deps;
  if (tts === undefined || deps.platform.sendSpeech === undefined || !SPOKEN_SOURCES.has(source)) return undefined;
  if (!speaksTo(config, deps.platform.name, deps.chatId)) return undefined;
  const text = spokenText(answer, config.maxSpeechChars);
  if (text === '') return undefined;
  try {
    const audio = await tts.synthesize(text, { language: languageOf(text, config.languages), format: 'ogg_opus' });
    const pollyEngine = tts.engine === 'polly' ? config.tts?.pollyEngine : undefined;
    return {
      audio,
      usage: { engine: tts.engine, ...(pollyEngine ? { pollyEngine } : {}), characters: audio.characters },
    };
  } catch (err) {
    deps.onError(err instanceof Error ? err : new VoiceError('unavailable', String(err)));
    return undefined;
  }
}

/** What is read aloud: the text without Markdown marks and link targets, cut at `maxChars` (at a word when it can). */
export function spokenText(answer: string, maxChars: number): string {
  const plain = answer
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/https?:\/\/\S+/g, '')
    .replace(/[*_`#>|~]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(plain);
  if (chars.length <= maxChars) return plain;
  const cut = chars.slice(0, maxChars).join('');
  const space = cut.lastIndexOf(' ');
  return (space > maxChars / 2 ? cut.slice(0, space) : cut).trim();
}

function languageOf(text: string, languages: readonly VoiceLanguage[]): VoiceLanguage {
  const wanted: VoiceLanguage = /[\u3400-\u9fff]/.test(text) ? 'zh-CN' : 'en-US';
  return languages.includes(wanted) ? wanted : (languages[0] ?? wanted);
}

/** The reply to a voice message that could not be understood: nothing reached the model or the context. */
function voiceNoteOutcome(note: string): PipelineOutcome {
  return {
    reply: note,
    source: 'voice_note',
    inputFilter: 'allow',
    outputFilter: 'allow',
    piiFound: 0,
    storedQuestion: '',
  };
}
