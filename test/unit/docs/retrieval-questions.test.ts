import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';
import * as z from '#shared/zod';
import { headingAnchor, headingAnchors, prose } from './doc-scan';
import { ROOT, readRepoFile } from './repo-files';

/**
 * The labelled question set of the docs retrieval bench (bench/retrieval-bench.ts) cannot rot: it stays large and
 * mixed (≥ 60 questions, ≥ 20 in Chinese), has no duplicates, copies no heading, and every section it expects
 * (`path#anchor`) is a section the retrieval core's chunkMarkdown makes of README.md or docs/*.md. Renaming or
 * removing a heading a question relies on fails here, naming the question.
 */

const FIXTURE = 'test/fixtures/retrieval/docs-questions.json';
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const MIN_QUESTIONS = 60;
const MIN_CJK_QUESTIONS = 20;

const questionSetSchema = z.object({
  description: z.string().check(z.minLength(1)),
  questions: z.array(
    z.object({
      id: z.string().check(z.minLength(1)),
      lang: z.enum(['en', 'zh']),
      question: z.string().check(z.minLength(1)),
      expected: z.array(z.string()).check(z.minLength(1)),
    }),
  ),
});
type LabelledQuestion = z.infer<typeof questionSetSchema>['questions'][number];

/** The documents the questions are about: README.md and docs/*.md (the platform guides are not in the corpus). */
const CORPUS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const CHUNKS: ReadonlyMap<string, readonly Chunk[]> = new Map(
  CORPUS.map((path) => [path, chunkMarkdown({ path, text: readRepoFile(path) })]),
);
const SECTIONS: ReadonlySet<string> = new Set(
  [...CHUNKS.values()].flat().map((chunk) => `${chunk.path}#${chunk.anchor ?? ''}`),
);
/** A heading or a question as words alone: section number, punctuation, case and spacing dropped. */
const bareWords = (text: string): string => headingAnchor(text.replace(/^\s*\d+(?:\.\d+)*\.?\s+/, ''));
/** Every heading of the corpus, as bare words: a question equal to one is a heading copied, not a question. */
const HEADINGS: ReadonlySet<string> = new Set(
  CORPUS.flatMap((path) =>
    [...prose(readRepoFile(path)).matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) => bareWords(m[1] ?? '')),
  ),
);

const fold = (text: string): string => text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

/** Every way `questions` breaks the rules, one line each (empty: valid). */
function problems(questions: readonly LabelledQuestion[], sections: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const ids = new Set<string>();
  const texts = new Map<string, string>();
  for (const q of questions) {
    if (ids.has(q.id)) found.push(`${q.id}: duplicate id`);
    ids.add(q.id);
    const earlier = texts.get(fold(q.question));
    if (earlier !== undefined) found.push(`${q.id}: same question as ${earlier}`);
    texts.set(fold(q.question), q.id);
    if ((q.lang === 'zh') !== CJK.test(q.question)) found.push(`${q.id}: lang ${q.lang} does not match its script`);
    if (HEADINGS.has(bareWords(q.question))) found.push(`${q.id}: copies a heading`);
    if (new Set(q.expected).size !== q.expected.length) found.push(`${q.id}: an expected section listed twice`);
    for (const id of q.expected) {
      const [path = ''] = id.split('#');
      if (!CORPUS.includes(path)) found.push(`${q.id}: ${id} is not in the corpus (README.md, docs/*.md)`);
      else if (!sections.has(id)) found.push(`${q.id}: ${id} is no section of ${path}`);
    }
  }
  return found;
}

const { questions } = questionSetSchema.parse(JSON.parse(readRepoFile(FIXTURE)));

describe('docs retrieval question set', () => {
  test(`has at least ${MIN_QUESTIONS} questions, at least ${MIN_CJK_QUESTIONS} of them in Chinese and most in English`, () => {
    const cjk = questions.filter((q) => CJK.test(q.question)).length;
    expect(questions.length).toBeGreaterThanOrEqual(MIN_QUESTIONS);
    expect(cjk).toBeGreaterThanOrEqual(MIN_CJK_QUESTIONS);
    expect(questions.length - cjk).toBeGreaterThan(cjk);
  });

  test('every question is unique, labelled with its language, no heading copy, and expects real sections', () => {
    expect(problems(questions, SECTIONS)).toEqual([]);
  });

  test('spreads over the corpus: every document is expected by some question', () => {
    const expectedPaths = new Set(questions.flatMap((q) => q.expected.map((id) => id.split('#')[0])));
    // docs/README.md is an index of the other guides: it answers no question of its own.
    expect(CORPUS.filter((path) => path !== 'docs/README.md' && !expectedPaths.has(path))).toEqual([]);
  });

  test('the checks catch a set that rotted', () => {
    const good = questions[0];
    if (!good) throw new Error('empty question set');
    const rotten: LabelledQuestion[] = [
      good,
      { ...good, question: ` ${good.question.toUpperCase()} ` },
      { id: 'x-1', lang: 'en', question: '如何部署？', expected: ['docs/OPERATIONS.md#2-deploy'] },
      {
        id: 'x-2',
        lang: 'en',
        question: 'Update and roll back?',
        expected: ['docs/OPERATIONS.md#3-update-and-roll-back'],
      },
      {
        id: 'x-3',
        lang: 'en',
        question: 'Where is the secret JSON for Slack?',
        expected: ['docs/platforms/slack.md#secret', 'docs/OPERATIONS.md#2-deploy', 'docs/OPERATIONS.md#2-deploy'],
      },
      { id: 'x-4', lang: 'zh', question: '怎么回滚？', expected: ['docs/OPERATIONS.md#3-update-and-rollback'] },
    ];
    expect(problems(rotten, SECTIONS)).toEqual([
      `${good.id}: duplicate id`,
      `${good.id}: same question as ${good.id}`,
      'x-1: lang en does not match its script',
      'x-2: copies a heading',
      'x-3: an expected section listed twice',
      'x-3: docs/platforms/slack.md#secret is not in the corpus (README.md, docs/*.md)',
      'x-4: docs/OPERATIONS.md#3-update-and-rollback is no section of docs/OPERATIONS.md',
    ]);
  });
});

describe('the sections the questions name are the ones GitHub links to', () => {
  test("chunkMarkdown's anchors are the docs' GitHub heading anchors (doc-scan's, held to GitHub by its own tests)", () => {
    for (const [path, chunks] of CHUNKS) {
      const anchors = headingAnchors(readRepoFile(path));
      expect({ path, outside: chunks.map((c) => c.anchor ?? '').filter((a) => !anchors.has(a)) }).toEqual({
        path,
        outside: [],
      });
    }
  });

  test("every link between the corpus documents lands on a section chunkMarkdown makes (the docs' own anchors)", () => {
    const links = CORPUS.flatMap((from) =>
      [...prose(readRepoFile(from)).matchAll(/\]\(([^)\s#]+\.md)#([^)\s]+)\)/g)].map((m) => {
        const target = posix.join(posix.dirname(from), m[1] ?? '');
        return { from, id: `${target}#${m[2] ?? ''}` };
      }),
    ).filter((link) => CORPUS.includes(link.id.split('#')[0] ?? ''));
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !SECTIONS.has(link.id))).toEqual([]);
  });
});
