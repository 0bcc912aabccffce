import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  buildDemoModel,
  buildVocabulary,
  DEMO_MODEL_FILE_NAME,
  DEMO_MODEL_VERSION,
  ensureDemoModel,
  isPrintablePiece,
  writeDemoModel,
} from '../../../sandbox/model/demo-model';
import { DEFAULT_DEMO_MODEL_PATH } from '../../../sandbox/model/local-model';

/**
 * The demo model's vocabulary and its cache. That the weights really keep the excluded tokens out of generated text is
 * shown by real inference in test/integration/model/demo-model-output.test.ts.
 */

/**
 * The digest of each released version's bytes. A change to what `buildDemoModel` writes must bump
 * DEMO_MODEL_VERSION, so that every cached copy of the old model is regenerated, and record the new digest here.
 */
const DIGEST_OF_VERSION: Readonly<Record<number, string>> = {
  2: '57dcfaa56fc551a3942ae3f14bd4fad95170c8ff1cf612b6151268616a2e9cf9',
};

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('the demo vocabulary', () => {
  const vocab = buildVocabulary();
  const generable = vocab.tokens.filter((_, i) => vocab.generable[i]);

  it('may emit only printable text pieces and its two end tokens', () => {
    const ends = ['</s>', '<|im_end|>'];
    const pieces = generable.filter((t) => !ends.includes(t));
    expect(generable.filter((t) => ends.includes(t))).toEqual(ends);
    expect(pieces.filter((t) => !isPrintablePiece(t.replaceAll('\u2581', ' ')))).toEqual([]);
    expect(pieces.length).toBeGreaterThan(300);
  });

  it('keeps every byte-fallback token for tokenising prompts, and never emits one', () => {
    const bytes = vocab.tokens.flatMap((t, i) => (/^<0x[0-9A-F]{2}>$/.test(t) ? [i] : []));
    expect(bytes).toHaveLength(256);
    expect(bytes.filter((i) => vocab.generable[i])).toEqual([]);
  });

  it('never emits <unk>, <s> or <|im_start|>', () => {
    for (const special of ['<unk>', '<s>', '<|im_start|>'])
      expect({ special, generable: vocab.generable[vocab.tokens.indexOf(special)] }).toEqual({
        special,
        generable: false,
      });
  });
});

describe('isPrintablePiece', () => {
  it.each([
    ['a word', ' hello'],
    ['Chinese', '你好'],
    ['punctuation', '，。！'],
    ['an emoji (a surrogate pair)', '🙂'],
  ])('accepts %s', (_, piece) => {
    expect(isPrintablePiece(piece)).toBe(true);
  });

  it.each([
    ['the empty string', ''],
    ['NUL', 'a\u0000'],
    ['a C0 control', '\u001b[31m'],
    ['a newline', '\n'],
    ['DEL', '\u007f'],
    ['a C1 control', '\u0085'],
    ['U+FFFD', 'x\uFFFD'],
    ['a lone high surrogate', '\uD83D'],
    ['a lone low surrogate', 'a\uDE42'],
  ])('refuses %s', (_, piece) => {
    expect(isPrintablePiece(piece)).toBe(false);
  });
});

describe('the cached demo model file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'groupgate-demo-model-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is named by version, and the version names exactly these bytes', () => {
    expect(basename(DEFAULT_DEMO_MODEL_PATH)).toBe(DEMO_MODEL_FILE_NAME);
    expect(DEMO_MODEL_FILE_NAME).toBe(`groupgate-demo-tiny-v${DEMO_MODEL_VERSION}.gguf`);
    expect({ version: DEMO_MODEL_VERSION, sha256: sha256(buildDemoModel()) }).toEqual({
      version: DEMO_MODEL_VERSION,
      sha256: DIGEST_OF_VERSION[DEMO_MODEL_VERSION],
    });
  });

  it('is written when absent, and an existing file of the current name is served as it is', async () => {
    const path = join(dir, 'models', DEMO_MODEL_FILE_NAME);
    await expect(ensureDemoModel(path)).resolves.toBe(path);
    expect(sha256(await readFile(path))).toBe(sha256(buildDemoModel()));
    const written = (await stat(path)).mtimeMs;
    await ensureDemoModel(path);
    expect((await stat(path)).mtimeMs).toBe(written);
  });

  it('is not the file an older version cached under its own name', async () => {
    const legacy = join(dir, 'groupgate-demo-tiny.gguf');
    await writeFile(legacy, 'v1 bytes');
    const path = await ensureDemoModel(join(dir, DEMO_MODEL_FILE_NAME));
    expect(path).not.toBe(legacy);
    expect(sha256(await readFile(path))).toBe(sha256(buildDemoModel()));
  });
});

describe('the demo model file, asked for by two engines at once', () => {
  it('is written once when two engines ask for it at the same time on a fresh machine (no failed rename)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-cache-'));
    try {
      const path = join(dir, 'cache', DEMO_MODEL_FILE_NAME);
      await expect(Promise.all([ensureDemoModel(path), ensureDemoModel(path)])).resolves.toEqual([path, path]);
      expect(readdirSync(join(dir, 'cache'))).toEqual([DEMO_MODEL_FILE_NAME]);
      // Two direct writes racing on one path both succeed too: their temporary files do not collide.
      await expect(Promise.all([writeDemoModel(path), writeDemoModel(path)])).resolves.toHaveLength(2);
      expect(readdirSync(join(dir, 'cache'))).toEqual([DEMO_MODEL_FILE_NAME]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
