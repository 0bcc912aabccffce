import { estimateTokens } from './token-estimate';

/** One remembered message of a conversation (stored by the context store, replayed into the prompt). */
export interface ChatTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
  /** Token count recorded when the turn was stored (model usage or estimate); estimated from `content` if absent. */
  readonly tokens?: number;
}

/** A chat-completions message (ARCHITECTURE §4.1). */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/**
 * Tokens a chat template spends around each message (role header and end-of-turn markers: 4–5 for ChatML and
 * Llama 3 templates). Counted on top of the content everywhere a budget is checked.
 */
export const MESSAGE_OVERHEAD_TOKENS = 5;

export function messageTokens(content: string): number {
  return estimateTokens(content) + MESSAGE_OVERHEAD_TOKENS;
}

export function turnTokens(turn: ChatTurn): number {
  return (turn.tokens ?? estimateTokens(turn.content)) + MESSAGE_OVERHEAD_TOKENS;
}

/** A run of turns kept or dropped together: a user turn with the assistant reply after it, or a lone turn. */
export interface TurnUnit {
  /** Offsets into the turn list: `start` inclusive, `end` exclusive. */
  readonly start: number;
  readonly end: number;
  /** True for a user turn followed by its assistant reply. */
  readonly paired: boolean;
  readonly tokens: number;
}

/** Groups turns, oldest first, into pairs (user then assistant) and lone turns. O(n). */
export function groupTurns(turns: readonly ChatTurn[]): TurnUnit[] {
  const units: TurnUnit[] = [];
  let i = 0;
  while (i < turns.length) {
    const turn = turns[i]!;
    const next = turns[i + 1];
    if (turn.role === 'user' && next?.role === 'assistant') {
      units.push({ start: i, end: i + 2, paired: true, tokens: turnTokens(turn) + turnTokens(next) });
      i += 2;
    } else {
      units.push({ start: i, end: i + 1, paired: false, tokens: turnTokens(turn) });
      i += 1;
    }
  }
  return units;
}

export interface TrimmedTurns {
  readonly turns: readonly ChatTurn[];
  /** Sum of `turnTokens` over the kept turns (includes per-message overhead). */
  readonly tokens: number;
  readonly droppedTurns: number;
}

/**
 * Keeps the most recent turns whose total `turnTokens` is at most `budget` and whose count is at most `maxTurns`,
 * dropping the oldest first, a user/assistant pair at a time so a question never loses its answer. Stops at the
 * first unit that does not fit, so the kept history is contiguous. Used by the context store before saving. O(n).
 */
export function trimTurnsToBudget(turns: readonly ChatTurn[], budget: number, maxTurns: number): TrimmedTurns {
  const units = groupTurns(turns);
  let tokens = 0;
  let count = 0;
  let firstKept = turns.length;
  for (let u = units.length - 1; u >= 0; u--) {
    const unit = units[u]!;
    const size = unit.end - unit.start;
    if (tokens + unit.tokens > budget || count + size > maxTurns) break;
    tokens += unit.tokens;
    count += size;
    firstKept = unit.start;
  }
  return { turns: turns.slice(firstKept), tokens, droppedTurns: firstKept };
}
