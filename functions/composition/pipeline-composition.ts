import { createHash } from 'node:crypto';
import type { PipelineConfig } from '#config/pipeline-config';
import { enabledSkillsFor } from '#config/skills-config';
import { answerCacheKey, isCacheable } from '#core/answer-cache-key';
import {
  type CacheEntry,
  DEFAULT_MESSAGES,
  type FaqKeyInput,
  type FaqKeyPorts,
  faqCacheKey,
  type PipelinePorts,
} from '#core/answer-pipeline';
import { parsePriceOverrides, resolvePrices } from '#core/cost/prices';
import type { StoredProfile } from '#core/profile/profile';
import { buildPrompt } from '#core/prompt/build-prompt';
import { estimateTokens } from '#core/prompt/token-estimate';
import { compileLexicon } from '#core/safety/content-filter';
import { moderate } from '#core/safety/moderation';
import { createPiiMasker } from '#core/safety/pii';
import { streamGuardFactory } from '#core/safety/stream-guard';
import { costSkill } from '#core/skills/cost';
import { type HelpEntry, helpSkill } from '#core/skills/help';
import { PROFILE_MESSAGES, profileSkill } from '#core/skills/profile';
import { type RemoteSkillDeps, remoteSkill } from '#core/skills/remote-skill';
import { resetSkill } from '#core/skills/reset';
import type { Skill, SkillOrigin } from '#core/skills/skill';
import { createCircuitBreaker } from '#model/circuit-breaker';
import type { ModelClient } from '#model/model-client';
import type { AwsClients } from '#shared/aws-clients';
import { traced } from '#shared/tracer';
import type { Member } from '#stores/active-users';
import { AnswerCache, type CachedEntry } from '#stores/answer-cache';
import type { CapacitySink } from '#stores/capacity';
import { ContextStore, type ConversationContext } from '#stores/context-store';
import { ProfileStore } from '#stores/profile-store';
import { RecordsStore } from '#stores/records-store';
import { formatUsage, queryMemberUsage } from '#stores/usage-query';
import { groupDefaultBlock, memberProfile } from './profile-ports';
import { remoteSkillDeps } from './skill-calls';

/**
 * The answering pipeline wired to the real stores, safety filters, prompt builder and model client, for every
 * caller: the worker (queued platform events) and `/v1/chat` (synchronous). Built once per cold start.
 */

export interface PipelineCompositionDeps {
  readonly config: PipelineConfig;
  readonly clients: AwsClients;
  readonly model: ModelClient;
  readonly now: () => number;
  /**
   * How third-party skills (`config.skills.remote`) are called and their calls reported. @default
   * `remoteSkillDeps(config.skills)`: Lambda by ARN (or the sandbox's URLs), logged and counted.
   */
  readonly remoteSkills?: Omit<RemoteSkillDeps, 'now'>;
}

/**
 * A pseudonymous, stable reference to a member for third-party skills: a hash of platform, tenant and user, so a
 * skill can tell members apart (and keep its own per-member state) without receiving the platform's user id.
 */
function memberRefOf(member: Member): string {
  return createHash('sha256')
    .update(['groupgate.skill.member', member.platform, member.tenantId, member.userId].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

export type PipelineComposition = ReturnType<typeof composePipeline>;

/** Reads a caller started before the pipeline runs (see `ports`). */
export interface Prefetched {
  /** The conversation key whose context `context` holds. */
  readonly key: string;
  readonly context: Promise<ConversationContext>;
  /** The FAQ cache item read for one key: it answers every key of its entry; undefined when none was read. */
  readonly cache?: Promise<CachedEntry | undefined>;
  /** The asking member's stored profile (`ProfileStore.profileOf`), read with the context. */
  readonly profile?: Promise<StoredProfile>;
}

/** Sampling temperature of every pipeline model call; part of the FAQ cache key, like the system prompt. */
export const MODEL_TEMPERATURE = 0.3;

export function composePipeline(deps: PipelineCompositionDeps) {
  const { config, clients, now } = deps;
  const contexts = new ContextStore(clients.doc, {
    tableName: config.tables.conversations,
    tokenCount: estimateTokens,
    ttlSeconds: config.contextTtlSeconds,
  });
  const cache = new AnswerCache(clients.doc, {
    tableName: config.tables.answerCache,
    ttlSeconds: config.answerCacheTtlSeconds,
  });
  const records = new RecordsStore(clients.doc, {
    ledgerTable: config.tables.ledger,
    auditTable: config.tables.audit,
  });
  const profiles = new ProfileStore(clients.doc, {
    tableName: config.tables.conversations,
    auditTableName: config.tables.audit,
    retentionDays: config.profiles.retentionDays,
    auditRetentionDays: config.auditRetentionDays,
  });
  const lexicon = compileLexicon(config.lexicon);
  const maskPii = createPiiMasker();
  const prices = resolvePrices(
    config.region,
    config.priceOverrides === undefined ? {} : parsePriceOverrides(config.priceOverrides),
  );
  const countMasked = (text: string) => {
    const masked = maskPii(text);
    return { text: masked.text, found: masked.findings.reduce((n, f) => n + f.count, 0) };
  };
  // One factory per output-masking setting, so a streamed snapshot is always a prefix of the final reply.
  const streamGuards = {
    masked: streamGuardFactory({ lexicon, maskPii: countMasked }),
    unmasked: streamGuardFactory({ lexicon, maskPii: (text) => ({ text, found: 0 }) }),
  };
  const verdict = async (text: string) => {
    const result = await moderate(text, { lexicon });
    return { decision: result.decision, text: result.text, maxLevel: result.maxLevel };
  };

  const skillDeps = deps.remoteSkills ?? remoteSkillDeps(config.skills);
  const remote = skillDeps
    ? config.skills.remote.map((skill) => ({
        name: skill.name,
        description: skill.description,
        // One breaker per skill and execution environment: 5 failures in a minute skip it for 30 s, then one probe.
        skill: remoteSkill(skill, { ...skillDeps, now, breaker: createCircuitBreaker({ now }) }),
      }))
    : [];

  /**
   * The skill chain of one group, in precedence order: `/help` and `/reset` always; `/cost` where the group enables
   * it and the caller names the member (it reads that member's ledger rows); then the group's third-party skills in
   * configuration order (`config.skills`, docs/SKILLS.md). Built-in commands come first so no skill can shadow them.
   * A new built-in skill is added here (see functions/core/skills/skill.ts).
   */
  const reset = resetSkill(DEFAULT_MESSAGES.contextCleared);
  function skillsFor(
    meter: CapacitySink,
    member: Member | undefined,
    profile: ReturnType<typeof memberProfile> | undefined,
  ): readonly Skill[] {
    const enabled = enabledSkillsFor(config.skills, member ? `${member.platform}:${member.chatId}` : '*');
    const chain: Skill[] = [reset];
    const help: HelpEntry[] = [{ name: '/reset', description: DEFAULT_MESSAGES.helpReset }];
    // `/profile` and `/forget` wherever the member is known: a member can always see and delete what is kept.
    if (profile) {
      chain.push(profileSkill(profile.commands, PROFILE_MESSAGES));
      help.push(
        { name: '/profile', description: PROFILE_MESSAGES.helpProfile },
        { name: '/forget', description: PROFILE_MESSAGES.helpForget },
      );
    }
    if (member && enabled.has('cost')) {
      const ledger = { tableName: config.tables.ledger };
      chain.push(costSkill(async () => formatUsage(await queryMemberUsage(clients.doc, ledger, member, now(), meter))));
      help.push({ name: '/cost', description: DEFAULT_MESSAGES.helpCost });
    }
    for (const skill of remote.filter((s) => enabled.has(s.name))) {
      chain.push(skill.skill);
      help.push({ name: skill.name, description: skill.description });
    }
    help.push({ name: '/help', description: DEFAULT_MESSAGES.helpHelp });
    return [helpSkill(DEFAULT_MESSAGES.helpIntro, help), ...chain];
  }

  /** The ports that decide a FAQ cache key: the same functions for `faqCacheKey` and for every invocation. */
  const keyPorts: FaqKeyPorts = {
    cacheKey: (question, maxTokens, modelId, systemPrompt, profile) =>
      isCacheable(question, { hasContext: false })
        ? answerCacheKey({
            question,
            modelId,
            promptVersion: config.promptVersion,
            systemPrompt: systemPrompt ?? config.systemPrompt,
            maxTokens,
            temperature: MODEL_TEMPERATURE,
            // The profile block is part of the system message the model receives: a variant of the entry, so the
            // worker's one read of the entry (with the context) holds every member's answer to the question.
            ...(profile ? { variant: profile } : {}),
          })
        : undefined,
    primaryModelId: deps.model.id,
    moderateInput: verdict,
    maskPii: countMasked,
    buildMessages: ({ systemPrompt, turns, question, sources, extraContext, maxTokens, profile }) => {
      const reply = Math.min(maxTokens ?? config.model.maxTokens, config.model.maxTokens);
      const built = buildPrompt({
        systemPrompt: systemPrompt ?? config.systemPrompt,
        turns,
        question,
        ...(sources ? { sources } : {}),
        extraContext,
        contextWindow: config.model.contextWindow,
        maxTokens: reply,
        ...(profile ? { profile } : {}),
      });
      return {
        messages: built.messages,
        maxTokens: reply,
        sourcesIncluded: built.sourcesIncluded,
        profileIncluded: built.profileIncluded,
      };
    },
  };

  /**
   * The pipeline's ports for one invocation. `prefetched` hands in reads a caller started early (the worker runs
   * them alongside its claim): the context of `key`, and the FAQ cache entry of `cache.key` (`faqCacheKey`); a
   * lookup of any other key reads the table. The save stays conditional on the version read, so reading early is
   * safe. `member` (who asked, in which group) enables `/cost`, answered from the ledger. The system prompt is the
   * turn's (`TurnInput.systemPrompt`, a group's override), or the deployment's default when the turn names none.
   */
  function ports(
    meter: CapacitySink,
    options: {
      readonly prefetched?: Prefetched;
      readonly member?: Member;
    } = {},
  ): PipelinePorts<ConversationContext> {
    const { prefetched, member } = options;
    const profile = member
      ? memberProfile(
          { store: profiles, config: config.profiles, maskPii: countMasked, now },
          member,
          meter,
          prefetched?.profile,
        )
      : undefined;
    return {
      ...keyPorts,
      loadContext: async (key) => {
        const loaded = await (prefetched?.key === key ? prefetched.context : contexts.load(key, now(), meter));
        return { turns: loaded.turns, handle: loaded };
      },
      clearContext: async (key) => {
        await contexts.clear(key, now(), meter);
      },
      cacheGet: async (key) => {
        const early = await prefetched?.cache;
        const hit = early?.covers(key) ? early.lookup(key) : await cache.get(key, now(), meter);
        return hit.hit ? hit.answer : undefined;
      },
      moderateOutput: verdict,
      streamGuard: ({ maskPii: masks }) => (masks ? streamGuards.masked() : streamGuards.unmasked()),
      invokeModel: async (messages, maxTokens, deadline, onDelta) => {
        const request = { messages: [...messages], maxTokens, temperature: MODEL_TEMPERATURE };
        const result = await traced('model', { modelId: deps.model.id, stream: onDelta !== undefined }, () =>
          onDelta ? deps.model.invokeStream(request, { deadline, onDelta }) : deps.model.invoke(request, { deadline }),
        );
        // A stream without a usage chunk (a server that ignores `stream_options`) is counted with the prompt
        // estimator, so ledger rows and the whole-answer check still have token counts.
        const usage = result.usage ?? {
          promptTokens: messages.reduce((n, m) => n + estimateTokens(m.content), 0),
          completionTokens: estimateTokens(result.content),
        };
        return {
          content: result.content,
          finishReason: result.finishReason,
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          latencyMs: result.latencyMs,
          timeToFirstTokenMs: result.timeToFirstTokenMs,
          modelId: result.modelId,
          billing: result.billing,
        };
      },
      skills: skillsFor(meter, member, profile),
      ...(profile ? { profile: profile.shaping } : {}),
      ...(member ? { origin: originOf(member) } : {}),
      messages: DEFAULT_MESSAGES,
    };
  }

  return {
    contexts,
    cache,
    profiles,
    /** The profile block of a member with none of their own in this chat (the group default's). */
    groupDefaultBlock: (member: Pick<Member, 'platform' | 'chatId'>) => groupDefaultBlock(config.profiles, member),
    prices,
    maskPii,
    /** The ledger and audit writes (see `createInvocationRecorder`). */
    records,
    ports,
    /** The FAQ cache key the model path looks up for `input` on an empty context (`faqCacheKey`). */
    faqCacheKey: (input: FaqKeyInput) => faqCacheKey(input, keyPorts),
    /** Caches a context-free answer under the key `runPipeline` chose, naming the model that answered. */
    async cachePut(entry: CacheEntry, meter: CapacitySink): Promise<void> {
      const { key, answer, modelId } = entry;
      await cache.put(key, { answer, modelId, promptVersion: config.promptVersion }, now(), meter);
    },
  };
}

/**
 * Where a message was asked, as skills see it. Some platforms name a direct chat by the member's own id (WeCom: the
 * sender's userid); such a chat id is sent as `direct:<memberRef>`, so the user id never leaves.
 */
function originOf(member: Member): SkillOrigin {
  const memberRef = memberRefOf(member);
  const chatId = member.chatId === member.userId ? `direct:${memberRef}` : member.chatId;
  return { platform: member.platform, chatId, memberRef };
}
