import { PROFILE_FIELDS, type ProfileField, ProfileValueError, parseProfileField } from '#core/profile/profile';
import type { Skill, SkillContext } from './skill';

/** Recognised as the first word of `commandForm`, like the other built-in commands. */
export const PROFILE_COMMANDS = ['/profile', '#资料', '/资料'] as const;
export const FORGET_COMMANDS = ['/forget', '#忘记我', '/忘记我'] as const;

/** What the profile commands may do, bound to the asking member by the composition. */
export interface ProfilePorts {
  /** `/profile`: the reply listing everything stored and what applies. */
  readonly show: () => Promise<string>;
  /**
   * Validates, masks and stores one member-set value, recording the change; resolves to the confirmation.
   * @throws ProfileValueError when the value is refused (its message is the reply)
   */
  readonly set: (field: ProfileField, raw: string) => Promise<string>;
  /** Removes one member-set value (the directory's or the group's then applies), recording the change. */
  readonly clear: (field: ProfileField) => Promise<string>;
  /** Deletes the profile, recording it; the skill clears the conversation's context too. */
  readonly forget: () => Promise<void>;
}

export interface ProfileMessages {
  readonly forgotten: string;
  readonly usage: string;
}

/**
 * `/profile`, `/profile set <field> <value>`, `/profile clear <field>` and `/forget`. Only composed where the member
 * is known. A refused value is answered with what is accepted; nothing is stored. The question is recorded with the
 * value left out (`recordedQuestion`): a role or department may be personal.
 */
export function profileSkill(ports: ProfilePorts, messages: ProfileMessages): Skill {
  return {
    name: 'profile',
    async handle(ctx, next) {
      const [command = '', verb = '', fieldName = ''] = ctx.commandForm.split(/\s+/u);
      if ((FORGET_COMMANDS as readonly string[]).includes(command) && ctx.commandForm === command) {
        await ports.forget();
        await ctx.clearContext();
        return { reply: messages.forgotten, source: 'command', recordedQuestion: command };
      }
      if (!(PROFILE_COMMANDS as readonly string[]).includes(command)) return next();
      const recordedQuestion = [command, verb, fieldName].filter(Boolean).join(' ');
      const reply = await answer(ctx, ports, messages, verb, fieldName).catch((err: unknown) => {
        if (err instanceof ProfileValueError) return err.message;
        throw err;
      });
      return { reply, source: 'command', recordedQuestion };
    },
  };
}

async function answer(
  ctx: SkillContext,
  ports: ProfilePorts,
  messages: ProfileMessages,
  verb: string,
  fieldName: string,
): Promise<string> {
  if (verb === '' || verb === 'show') return ports.show();
  if (verb === 'set') {
    const field = parseProfileField(fieldName);
    return ports.set(field, setValueOf(ctx.text));
  }
  if (verb === 'clear') return ports.clear(parseProfileField(fieldName));
  return `${messages.usage} Fields: ${PROFILE_FIELDS.join(', ')}.`;
}

/** The value of `/profile set <field> <value>`: everything after the third word, as the member wrote it. */
function setValueOf(text: string): string {
  const match = /^\s*\S+\s+\S+\s+\S+\s?([\s\S]*)$/u.exec(text);
  return match?.[1] ?? '';
}

/** The profile commands' fixed texts and their `/help` lines. */
export const PROFILE_MESSAGES = {
  forgotten:
    '已删除你的资料和本会话的上下文。Your profile and this conversation’s context are deleted; nothing about you is kept for answers.',
  usage: 'Use /profile, /profile set <field> <value>, /profile clear <field> or /forget.',
  helpProfile: '你的回答偏好(语言、长度、角色)Your answer preferences: /profile, /profile set <field> <value>',
  helpForget: '删除你的资料和上下文 Delete your profile and this conversation’s context',
} as const;
