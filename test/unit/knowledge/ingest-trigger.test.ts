import { parseKnowledgeConfig } from '#config/knowledge-config';
import { basesOf } from '#handlers/knowledge-ingest';

/** Which bases a run of the ingestion function reconciles: an S3 event's own bases, or all of them on a schedule. */

const { bases } = parseKnowledgeConfig(
  JSON.stringify({
    bases: [
      { id: 'handbook', title: 'Handbook', prefix: 'handbook/', groups: ['*'] },
      { id: 'finance', title: 'Finance', prefix: 'finance-docs/', groups: ['slack:CFIN'] },
      { id: 'legal', title: 'Legal', prefix: 'legal/', groups: ['*'] },
    ],
  }),
);
const s3Event = (...keys: string[]) => ({ Records: keys.map((key) => ({ s3: { object: { key } } })) }) as never;

describe('basesOf', () => {
  it("an S3 event's objects name their bases once each, in configuration order; URL-encoded keys included", () => {
    expect(
      basesOf(s3Event('legal/nda.pdf', 'finance-docs/q3+close%2Bnotes.md', 'legal/x.md'), bases).map((b) => b.id),
    ).toEqual(['finance', 'legal']);
  });

  it('objects outside every base run nothing; a scheduled event reconciles every base', () => {
    expect(basesOf(s3Event('datasets/sales.csv', 'handbook/'), bases)).toEqual([]);
    expect(basesOf({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, bases).map((b) => b.id)).toEqual([
      'handbook',
      'finance',
      'legal',
    ]);
  });
});
