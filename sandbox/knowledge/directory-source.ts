import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DocumentRejected } from '#knowledge/extract/extract-document';
import type { DocumentSource, SourceObject } from '#knowledge/ingest';

/**
 * A knowledge base's documents as local files: the sandbox's stand-in for an S3 prefix. `files` are paths relative to
 * `root` (listed by the caller, so the sandbox decides what the base holds); the version is the content's SHA-256,
 * as an ETag is for a single-part upload, so an edited file is re-ingested and an untouched one is not.
 */
export function directorySource(root: string, files: () => Promise<readonly string[]>): DocumentSource {
  return {
    async list() {
      const objects: SourceObject[] = [];
      for (const file of await files()) {
        const bytes = await readFile(join(root, file)).catch(() => undefined);
        if (!bytes) continue; // removed between the listing and the read: absent, as S3 would list it next time
        objects.push({ key: file, version: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      }
      return objects;
    },
    async read(key, maxBytes) {
      const path = join(root, key);
      const { size } = await stat(path);
      if (size > maxBytes)
        throw new DocumentRejected('too_large', key, `${key}: ${size} bytes, more than the limit of ${maxBytes}`);
      return readFile(path);
    },
  };
}
