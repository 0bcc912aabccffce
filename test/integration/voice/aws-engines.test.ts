import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { decodeEventMessages, encodeEventMessage } from '#voice/event-stream';
import { createPollyTts } from '#voice/polly';
import { createTranscribeAsr } from '#voice/transcribe';
import { VoiceError } from '#voice/voice-error';
import { writeWav } from '#voice/wav';
import { createWhisperAsr } from '#voice/whisper-sagemaker';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';
import { oggOpusFixture } from '../../unit/voice/ogg-fixture';

/**
 * The AWS engines against local stand-ins speaking each service's wire protocol over real sockets: Transcribe's
 * WebSocket event stream, Polly's REST-JSON, SageMaker's InvokeEndpoint. Not the live services (no credentials in
 * CI): what is checked is what GroupGate sends and how it reads every kind of answer.
 */
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const signal = () => new AbortController().signal;

async function voiceError(promise: Promise<unknown>): Promise<VoiceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof VoiceError)) throw new Error(`expected a VoiceError, got ${String(err)}`);
  return err;
}

function transcriptEvent(results: object[]): Uint8Array {
  return encodeEventMessage({
    headers: { ':message-type': 'event', ':event-type': 'TranscriptEvent', ':content-type': 'application/json' },
    payload: new TextEncoder().encode(JSON.stringify({ Transcript: { Results: results } })),
  });
}

type Behaviour = 'transcribe' | 'exception' | 'drop';

describe('Amazon Transcribe streaming (WebSocket)', () => {
  let server: WebSocketServer;
  let url: URL;
  let behaviour: Behaviour;
  const seen: { query: URLSearchParams; audioBytes: number; events: number }[] = [];

  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    url = new URL(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('connection', (socket, request) => {
      const record = { query: new URL(request.url ?? '/', url).searchParams, audioBytes: 0, events: 0 };
      seen.push(record);
      socket.on('message', (data: Buffer) => {
        for (const message of decodeEventMessages(new Uint8Array(data))) {
          expect(message.headers).toEqual({
            ':message-type': 'event',
            ':event-type': 'AudioEvent',
            ':content-type': 'application/octet-stream',
          });
          record.events += 1;
          record.audioBytes += message.payload.length;
          if (behaviour === 'drop' && record.events === 2) socket.terminate();
          if (message.payload.length > 0) continue;
          if (behaviour === 'exception') {
            socket.send(
              encodeEventMessage({
                headers: { ':message-type': 'exception', ':exception-type': 'BadRequestException' },
                payload: new TextEncoder().encode('{"Message":"could not decode"}'),
              }),
            );
            return;
          }
          socket.send(transcriptEvent([{ IsPartial: true, Alternatives: [{ Transcript: 'how many' }] }]));
          socket.send(
            transcriptEvent([
              { IsPartial: false, LanguageCode: 'en-US', Alternatives: [{ Transcript: 'How many people work here?' }] },
            ]),
          );
          socket.send(transcriptEvent([{ IsPartial: false, Alternatives: [{ Transcript: 'Thanks.' }] }]));
          socket.close(1000);
        }
      });
    });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    behaviour = 'transcribe';
    seen.length = 0;
  });

  const asr = (extra: object = {}) =>
    createTranscribeAsr({
      region: 'us-east-1',
      endpoint: url,
      credentials,
      maxSeconds: 60,
      languages: ['zh-CN', 'en-US'],
      pace: 20,
      ...extra,
    });

  it('streams a WAV as raw PCM in paced 100 ms events and keeps only final results', async () => {
    const wav = writeWav({ sampleRate: 16_000, channels: 2, samples: new Int16Array(16_000 * 2) });
    const transcript = await asr().transcribe({ bytes: wav, mediaType: 'audio/wav' }, { signal: signal() });
    expect(transcript).toEqual({ text: 'How many people work here? Thanks.', language: 'en-US', durationSeconds: 1 });
    const [call] = seen;
    // Stereo down-mixed: 1 s of mono 16 kHz PCM, no WAV header; ten 100 ms events and the empty end event.
    expect(call?.audioBytes).toBe(32_000);
    expect(call?.events).toBe(11);
    expect(call?.query.get('media-encoding')).toBe('pcm');
    expect(call?.query.get('sample-rate')).toBe('16000');
    expect(call?.query.get('identify-language')).toBe('true');
    expect(call?.query.get('language-options')).toBe('zh-CN,en-US');
    expect(call?.query.get('X-Amz-Credential')).toMatch(/^AKIDTEST\/\d{8}\/us-east-1\/transcribe\/aws4_request$/);
  });

  it('sends Ogg/Opus as is, naming the language when the caller knows it', async () => {
    const ogg = oggOpusFixture({ preSkip: 0, lastGranule: 48_000, channels: 1 });
    await asr().transcribe({ bytes: ogg, mediaType: 'audio/ogg' }, { language: 'zh-CN', signal: signal() });
    expect(seen[0]?.query.get('media-encoding')).toBe('ogg-opus');
    expect(seen[0]?.query.get('sample-rate')).toBe('48000');
    expect(seen[0]?.query.get('language-code')).toBe('zh-CN');
    expect(seen[0]?.audioBytes).toBe(ogg.length);
  });

  it('turns the service exception, an early close and the deadline into typed errors', async () => {
    const wav = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000) });
    const clip = { bytes: wav, mediaType: 'audio/wav' };
    behaviour = 'exception';
    const refused = await voiceError(asr().transcribe(clip, { signal: signal() }));
    expect(refused.code).toBe('corrupt');
    expect(refused.message).toBe('Amazon Transcribe refused the audio (BadRequestException)');
    behaviour = 'drop';
    expect((await voiceError(asr().transcribe(clip, { signal: signal() }))).code).toBe('unavailable');
    behaviour = 'transcribe';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    // Real-time pace: the 1 s clip is still being sent when the deadline passes.
    const late = await voiceError(asr({ pace: 1 }).transcribe(clip, { signal: controller.signal }));
    expect(late.code).toBe('timeout');
  });

  it('refuses what it cannot send before connecting', async () => {
    const long = writeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(8000 * 61) });
    expect(
      (await voiceError(asr().transcribe({ bytes: long, mediaType: 'audio/wav' }, { signal: signal() }))).code,
    ).toBe('too_long');
    const vorbis = oggOpusFixture({
      preSkip: 0,
      lastGranule: 1,
      channels: 1,
      head: '\x01vorbis\0\0\0\0\x01\x80\xbb\0\0',
    });
    expect(
      (await voiceError(asr().transcribe({ bytes: vorbis, mediaType: 'audio/ogg' }, { signal: signal() }))).code,
    ).toBe('unsupported_codec');
    expect(seen).toHaveLength(0);
  });
});

describe('Amazon Polly', () => {
  let server: TestServer | undefined;
  afterEach(() => server?.close());

  it('posts a signed SynthesizeSpeech and wraps 16 kHz PCM as WAV', async () => {
    server = await startTestServer(() => ({
      statusCode: 200,
      headers: { 'content-type': 'audio/pcm' },
      body: new Uint8Array(32_000),
    }));
    const tts = createPollyTts({ region: 'eu-west-1', endpoint: new URL(server.url), credentials, maxChars: 3000 });
    const audio = await tts.synthesize('你好', { language: 'zh-CN', format: 'wav' });
    expect(audio).toMatchObject({ mediaType: 'audio/wav', durationSeconds: 1, characters: 2 });
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/speech');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/polly\/aws4_request/,
    );
    expect(JSON.parse(request?.body.toString('utf8') ?? '')).toEqual({
      Engine: 'neural',
      LanguageCode: 'cmn-CN',
      OutputFormat: 'pcm',
      SampleRate: '16000',
      Text: '你好',
      TextType: 'text',
      VoiceId: 'Zhiyu',
    });
  });

  it('reads the duration of ogg_opus output from its pages', async () => {
    const ogg = oggOpusFixture({ preSkip: 312, lastGranule: 312 + 96_000, channels: 1 });
    server = await startTestServer(() => ({ statusCode: 200, headers: { 'content-type': 'audio/ogg' }, body: ogg }));
    const tts = createPollyTts({ region: 'us-east-1', endpoint: new URL(server.url), credentials, maxChars: 3000 });
    const audio = await tts.synthesize('Hello there', { language: 'en-US', format: 'ogg_opus', voice: 'Matthew' });
    expect(audio).toMatchObject({ mediaType: 'audio/ogg', durationSeconds: 2, characters: 11 });
    expect(JSON.parse(server.requests[0]?.body.toString('utf8') ?? '').VoiceId).toBe('Matthew');
  });

  it('maps refusals, outages and slowness to typed errors, and caps text before calling', async () => {
    let answer = {
      statusCode: 400,
      headers: { 'x-amzn-errortype': 'TextLengthExceededException:http://internal' },
      body: '{}',
    };
    server = await startTestServer(() => answer);
    const tts = createPollyTts({
      region: 'us-east-1',
      endpoint: new URL(server.url),
      credentials,
      maxChars: 20,
      timeoutMs: 300,
    });
    expect((await voiceError(tts.synthesize('short', { language: 'en-US', format: 'wav' }))).code).toBe('too_long');
    answer = { statusCode: 503, headers: { 'x-amzn-errortype': 'ServiceFailureException' }, body: '{}' };
    expect((await voiceError(tts.synthesize('short', { language: 'en-US', format: 'wav' }))).message).toBe(
      'Amazon Polly refused the text (ServiceFailureException)',
    );
    const calls = server.requests.length;
    expect((await voiceError(tts.synthesize('x'.repeat(21), { language: 'en-US', format: 'wav' }))).code).toBe(
      'too_long',
    );
    expect(server.requests).toHaveLength(calls);
    await server.close();
    server = await startTestServer(
      () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200, body: '' }), 2000)),
    );
    const slow = createPollyTts({
      region: 'us-east-1',
      endpoint: new URL(server.url),
      credentials,
      maxChars: 20,
      timeoutMs: 200,
    });
    expect((await voiceError(slow.synthesize('short', { language: 'en-US', format: 'wav' }))).code).toBe('timeout');
  });
});

describe('Whisper on a SageMaker endpoint', () => {
  let server: TestServer | undefined;
  afterEach(() => server?.close());
  const wav = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(8000) });

  it('invokes the endpoint with the audio bytes and reads text and language', async () => {
    server = await startTestServer(() => ({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"text":" 你好 ","language":"chinese"}',
    }));
    const asr = createWhisperAsr({
      endpointName: 'whisper',
      region: 'us-east-1',
      endpointUrl: server.url,
      credentials,
      maxSeconds: 60,
    });
    const transcript = await asr.transcribe({ bytes: wav, mediaType: 'audio/x-wav' }, { signal: signal() });
    expect(transcript).toEqual({ text: '你好', language: 'zh-CN', durationSeconds: 0.5 });
    const [request] = server.requests;
    expect(request?.path).toBe('/endpoints/whisper/invocations');
    expect(request?.headers['content-type']).toBe('audio/wav');
    expect(Buffer.compare(request?.body ?? Buffer.alloc(0), Buffer.from(wav))).toBe(0);
  });

  it('stops at the turn deadline with a timeout', async () => {
    server = await startTestServer(
      () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200, body: '{"text":"late"}' }), 2000)),
    );
    const asr = createWhisperAsr({
      endpointName: 'whisper',
      region: 'us-east-1',
      endpointUrl: server.url,
      credentials,
      maxSeconds: 60,
    });
    const err = await voiceError(
      asr.transcribe({ bytes: wav, mediaType: 'audio/wav' }, { signal: AbortSignal.timeout(200) }),
    );
    expect(err.code).toBe('timeout');
  });

  it('calls a container 400 corrupt audio and anything else unavailable', async () => {
    let answer = {
      statusCode: 424,
      headers: { 'x-amzn-errortype': 'ModelError:http://internal', 'content-type': 'application/json' },
      body: '{"message":"Received client error (400) from primary with message \\"ffmpeg could not read\\""}',
    };
    server = await startTestServer(() => answer);
    const asr = createWhisperAsr({
      endpointName: 'whisper',
      region: 'us-east-1',
      endpointUrl: server.url,
      credentials,
      maxSeconds: 60,
    });
    const clip = { bytes: wav, mediaType: 'audio/wav' };
    expect((await voiceError(asr.transcribe(clip, { signal: signal() }))).code).toBe('corrupt');
    answer = {
      statusCode: 200,
      headers: { 'x-amzn-errortype': '', 'content-type': 'application/json' },
      body: '{"generated":"no text field"}',
    };
    expect((await voiceError(asr.transcribe(clip, { signal: signal() }))).message).toBe(
      'the Whisper endpoint answered without a transcript',
    );
  });
});
