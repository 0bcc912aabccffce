import type { KnowledgeStore } from './store/knowledge-store';

/**
 * Deletion of knowledge bases an operator removed from the configuration: the store keeps nothing of a base no
 * longer configured. Groups never retrieve from such a base anyway (the skill searches only the bases configured for
 * the asking group), so this is about honouring the removal, not access: a withdrawn base's text must not stay in the
 * database, in backups taken later, or come back if an id is reused for another base.
 *
 * Re-adding a base re-ingests it from its S3 prefix on the next run.
 */
export interface PrunedBase {
  readonly kbId: string;
  /** Documents it held. */
  readonly documents: number;
}

export async function pruneRemovedBases(
  store: Pick<KnowledgeStore, 'storedKnowledgeBases' | 'deleteKnowledgeBase'>,
  configuredIds: readonly string[],
): Promise<PrunedBase[]> {
  const configured = new Set(configuredIds);
  const pruned: PrunedBase[] = [];
  for (const kbId of await store.storedKnowledgeBases()) {
    if (configured.has(kbId)) continue;
    pruned.push({ kbId, documents: await store.deleteKnowledgeBase(kbId) });
  }
  return pruned;
}
