import type { S3Client } from '@aws-sdk/client-s3';
import { DocumentRejected } from './extract/extract-document';
import type { DocumentSource, SourceObject } from './ingest';

/**
 * A knowledge base's documents in S3: every object under `prefix` (folder markers, keys ending in `/`, left out),
 * versioned by ETag, which changes whenever the content does. Bodies are read up to `maxBytes` and no further: a
 * larger object is refused while streaming, whatever its listed size said.
 */
export function s3DocumentSource(client: S3Client, bucket: string, prefix: string): DocumentSource {
  return {
    async list() {
      const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const objects: SourceObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const object of page.Contents ?? []) {
          if (!object.Key || object.Key.endsWith('/') || !object.ETag) continue;
          objects.push({ key: object.Key.slice(prefix.length), version: object.ETag, size: object.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return objects;
    },
    async read(key, maxBytes) {
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${key}` }));
      const body = out.Body as AsyncIterable<Uint8Array> | undefined;
      if (!body) return new Uint8Array();
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          (out.Body as { destroy?: () => void }).destroy?.();
          throw new DocumentRejected('too_large', key, `${key}: more than the limit of ${maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    },
  };
}
