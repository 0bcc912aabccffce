import { parseSkillsConfig } from '#config/skills-config';
import { queuedEventSchema } from '#core/queue-message';
import { MAX_SKILL_FILES, MAX_SKILL_FILES_BYTES, SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import { parseSkillRequest } from '#core/skills/skill-request';
import { MAX_MESSAGE_ATTACHMENTS } from '#platforms/types';
import { queuedEvent } from '../../../helpers/factories/queued-event';

/** Shared files on the wire: the skill's side of `files`, the queue's attachment references, the opt-in. */

const request = (files: unknown) => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'data',
  requestId: 'r1',
  text: '/data',
  deadlineMs: 1000,
  files,
});

const csv = { name: 'a.csv', mediaType: 'text/csv', data: Buffer.from('x\n1\n').toString('base64') };

describe('parseSkillRequest: files', () => {
  it('accepts files, and a request without them', () => {
    expect(parseSkillRequest(request([csv]))).toMatchObject({ ok: true, request: { files: [csv] } });
    const { files: _none, ...without } = request(undefined);
    expect(parseSkillRequest(without)).toMatchObject({ ok: true });
  });

  it.each([
    ['data that is not base64', [{ ...csv, data: 'not base64!' }], 'files.0.data'],
    ['a file without a name', [{ ...csv, name: '' }], 'files.0.name'],
    ['more files than the protocol carries', Array.from({ length: MAX_SKILL_FILES + 1 }, () => csv), 'files'],
    [
      'one file over the byte cap',
      [{ ...csv, data: Buffer.alloc(MAX_SKILL_FILES_BYTES + 3).toString('base64') }],
      'files.0.data',
    ],
    ['files that are not a list', { csv }, 'files'],
  ])('refuses %s, naming the field', (_, files, field) => {
    const parsed = parseSkillRequest(request(files));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(field);
  });
});

describe('queued event: attachments are references, bounded', () => {
  const base = queuedEvent();
  const withAttachments = (attachments: unknown) => ({ ...base, message: { ...base.message, attachments } });

  it('carries them through the queue schema unchanged', () => {
    const attachments = [
      { kind: 'file', name: 'a.csv', size: 12, ref: 'https://files.slack.com/x' },
      // A reply to a message that may hold a file: `quoted` decides that a message without one is answered as text.
      { kind: 'file', name: 'the file replied to', ref: '{"parentId":"om_1"}', quoted: true },
      { kind: 'audio', name: 'voice.opus', ref: 'r' },
    ];
    expect(queuedEventSchema.parse(withAttachments(attachments)).message.attachments).toEqual(attachments);
    expect(queuedEventSchema.parse(base).message.attachments).toBeUndefined();
  });

  it.each([
    ['too many', Array.from({ length: MAX_MESSAGE_ATTACHMENTS + 1 }, () => ({ kind: 'file', name: 'a', ref: 'r' }))],
    ['an empty ref', [{ kind: 'file', name: 'a', ref: '' }]],
    ['another kind', [{ kind: 'image', name: 'a', ref: 'r' }]],
    ['a negative size', [{ kind: 'file', name: 'a', ref: 'r', size: -1 }]],
  ])('refuses %s (a poison message, dead-lettered)', (_, attachments) => {
    expect(queuedEventSchema.safeParse(withAttachments(attachments)).success).toBe(false);
  });
});

describe('SKILLS: acceptsFiles', () => {
  const skill = { name: 'data', description: 'd', url: 'http://127.0.0.1:1/' };
  it('is off unless set, and must be a boolean', () => {
    expect(parseSkillsConfig(JSON.stringify({ remote: [skill] })).remote[0]?.acceptsFiles).toBeUndefined();
    expect(
      parseSkillsConfig(JSON.stringify({ remote: [{ ...skill, acceptsFiles: true }] })).remote[0]?.acceptsFiles,
    ).toBe(true);
    expect(() => parseSkillsConfig(JSON.stringify({ remote: [{ ...skill, acceptsFiles: 'yes' }] }))).toThrow(
      /SKILLS\.remote\[0\]\.acceptsFiles/,
    );
  });
});
