import { type ChatTurn, groupTurns, MESSAGE_OVERHEAD_TOKENS, trimTurnsToBudget, turnTokens } from '#core/prompt/turns';

const user = (content: string, tokens = 10): ChatTurn => ({ role: 'user', content, tokens });
const assistant = (content: string, tokens = 10): ChatTurn => ({ role: 'assistant', content, tokens });
const TURN = 10 + MESSAGE_OVERHEAD_TOKENS;

describe('turnTokens', () => {
  it('uses the stored count when present, else the estimate, plus message overhead', () => {
    expect(turnTokens(user('ignored', 42))).toBe(42 + MESSAGE_OVERHEAD_TOKENS);
    expect(turnTokens({ role: 'user', content: '你好吗' })).toBe(3 + MESSAGE_OVERHEAD_TOKENS);
  });
});

describe('groupTurns', () => {
  it('pairs each user turn with the assistant reply after it and leaves the rest alone', () => {
    const units = groupTurns([assistant('a0'), user('q1'), assistant('a1'), user('q2'), user('q3'), assistant('a3')]);
    expect(units.map(({ start, end, paired }) => [start, end, paired])).toEqual([
      [0, 1, false],
      [1, 3, true],
      [3, 4, false],
      [4, 6, true],
    ]);
    expect(units[1]!.tokens).toBe(2 * TURN);
  });

  it('returns nothing for no turns', () => {
    expect(groupTurns([])).toEqual([]);
  });
});

describe('trimTurnsToBudget', () => {
  const turns = [user('q1'), assistant('a1'), user('q2'), assistant('a2'), user('q3'), assistant('a3')];

  it('keeps everything that fits', () => {
    expect(trimTurnsToBudget(turns, 6 * TURN, 10)).toEqual({ turns, tokens: 6 * TURN, droppedTurns: 0 });
  });

  it('drops the oldest pairs first when over the token budget', () => {
    const result = trimTurnsToBudget(turns, 5 * TURN, 10);
    expect(result.turns.map((t) => t.content)).toEqual(['q2', 'a2', 'q3', 'a3']);
    expect(result).toMatchObject({ tokens: 4 * TURN, droppedTurns: 2 });
  });

  it('keeps whole pairs under an odd turn limit', () => {
    const result = trimTurnsToBudget(turns, 1_000, 3);
    expect(result.turns.map((t) => t.content)).toEqual(['q3', 'a3']);
    expect(result.droppedTurns).toBe(4);
  });

  it('keeps a trailing lone user turn as its own unit', () => {
    const result = trimTurnsToBudget([...turns, user('q4')], 3 * TURN, 10);
    expect(result.turns.map((t) => t.content)).toEqual(['q3', 'a3', 'q4']);
  });

  it('keeps the history contiguous: stops at the first unit that does not fit', () => {
    const result = trimTurnsToBudget(
      [user('q1', 1), assistant('a1', 1), user('q2', 500), assistant('a2'), ...turns.slice(4)],
      100,
      10,
    );
    expect(result.turns.map((t) => t.content)).toEqual(['q3', 'a3']);
    expect(result.droppedTurns).toBe(4);
  });

  it('keeps nothing when the budget or the limit is zero', () => {
    expect(trimTurnsToBudget(turns, 0, 10)).toEqual({ turns: [], tokens: 0, droppedTurns: 6 });
    expect(trimTurnsToBudget(turns, 1_000, 0)).toEqual({ turns: [], tokens: 0, droppedTurns: 6 });
  });
});
