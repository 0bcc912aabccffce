import { SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { commandOf } from '#data-analysis/data-skill';

describe('commandOf', () => {
  const req = (text: string, extra: Partial<SkillRequest> = {}): SkillRequest => ({
    version: SKILL_PROTOCOL_VERSION,
    skill: 'data',
    requestId: 'r',
    text,
    deadlineMs: 3000,
    ...extra,
  });

  it('takes command and args from GroupGate when it matched them', () => {
    expect(commandOf(req('/SQL sales SELECT 1', { command: '/sql', args: "sales SELECT 'A'" }))).toEqual({
      kind: 'sql',
      args: "sales SELECT 'A'",
    });
  });

  it('reads the first word otherwise, in any width and case, keeping the arguments’ case', () => {
    expect(commandOf(req("／DATA sales Where is 'North America'?"))).toEqual({
      kind: 'data',
      args: "sales Where is 'North America'?",
    });
    expect(commandOf(req('/数据'))).toEqual({ kind: 'data', args: '' });
    expect(commandOf(req('  /sql\nSELECT 1  '))).toEqual({ kind: 'sql', args: 'SELECT 1' });
  });

  it.each([req('/database is down'), req('what is /data?'), req('/define ARR', { command: '/define', args: 'ARR' })])(
    'is undefined for %p',
    (request) => {
      expect(commandOf(request)).toBeUndefined();
    },
  );
});
