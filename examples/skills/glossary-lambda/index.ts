/** A GroupGate skill (protocol v1, docs/SKILLS.md) as a Lambda function: `/define <term>` and grounding. */
const VERSION = 'groupgate.skill.v1';

interface SkillRequest {
  version: string;
  text: string;
  command?: string;
  args?: string;
}
type Passage = { text: string; title: string; section?: string; url?: string };
type SkillResponse =
  | { version: typeof VERSION; action: 'answer'; reply: string }
  | { version: typeof VERSION; action: 'ground'; passages: Passage[] }
  | { version: typeof VERSION; action: 'decline' };

const TERMS: Record<string, string> = {
  'cost centre': 'The budget a team books spending against; finance assigns one per team.',
  'on-call': 'The engineer who answers production alarms this week; see the rota in the wiki.',
};

export async function handler(event: SkillRequest): Promise<SkillResponse> {
  // A request this code does not understand is an error: GroupGate counts it, and the model answers the member.
  if (event?.version !== VERSION || typeof event.text !== 'string') throw new Error('not a v1 skill request');
  const [word = '', ...rest] = event.text.trim().split(/\s+/);
  if ((event.command ?? word.toLowerCase()) === '/define') {
    const term = (event.args ?? rest.join(' ')).trim().toLowerCase().slice(0, 100);
    const reply = TERMS[term]
      ? `${term}: ${TERMS[term]}`
      : `No entry for "${term}". Known: ${Object.keys(TERMS).join(', ')}`;
    return { version: VERSION, action: 'answer', reply };
  }
  const text = event.text.toLowerCase();
  const passages = Object.entries(TERMS)
    .filter(([term]) => text.includes(term))
    .map(([term, definition]) => ({ text: definition, title: 'Company glossary', section: term }))
    .slice(0, 8); // protocol v1: at most 8 passages
  return passages.length > 0
    ? { version: VERSION, action: 'ground', passages }
    : { version: VERSION, action: 'decline' };
}
