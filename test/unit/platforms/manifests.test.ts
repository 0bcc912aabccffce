import { relative, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { requiredCredentialKeys } from '#platforms/manifest';
import { fromManifests, PLATFORM_MANIFESTS } from '#platforms/manifests';
import { PLATFORM_DESCRIPTORS } from '#platforms/registry';
import { PLATFORMS } from '#platforms/types';

const ROOT = resolve(__dirname, '..', '..', '..');

describe('platform manifests', () => {
  it('has exactly one manifest per PLATFORMS entry, named like its key', () => {
    expect(Object.keys(PLATFORM_MANIFESTS)).toEqual([...PLATFORMS]);
    for (const name of PLATFORMS) expect(PLATFORM_MANIFESTS[name].name).toBe(name);
  });

  it('is what each runtime descriptor is built on: one declaration, two readers', () => {
    for (const name of PLATFORMS) {
      const { create: _factory, ...declared } = PLATFORM_DESCRIPTORS[name];
      expect(declared).toEqual(PLATFORM_MANIFESTS[name]);
      expect(declared.credentials).toBe(PLATFORM_MANIFESTS[name].credentials);
      expect(declared.replyHandleSchema).toBe(PLATFORM_MANIFESTS[name].replyHandleSchema);
      expect(declared.duplicateAck).toBe(PLATFORM_MANIFESTS[name].duplicateAck);
    }
  });

  it('derives the keys a usable secret must hold from the credential schemas (optional keys left out)', () => {
    expect(fromManifests((m) => requiredCredentialKeys(m.credentials))).toEqual({
      feishu: ['appId', 'appSecret', 'verificationToken', 'encryptKey', 'botOpenId'],
      slack: ['signingSecret', 'botToken', 'botUserId'],
      dingtalk: ['appKey', 'appSecret'],
      wecom: ['token', 'encodingAesKey'],
    });
  });

  it('declares each webhook route: POST everywhere, GET only for a GET URL check', () => {
    expect(fromManifests((m) => m.webhook.methods)).toEqual({
      feishu: ['POST'],
      slack: ['POST'],
      dingtalk: ['POST'],
      wecom: ['GET', 'POST'],
    });
  });

  it('loads no adapter code, so the CDK app may import it', () => {
    // buildSync: no esbuild service is left running after the test.
    const result = buildSync({
      entryPoints: [resolve(ROOT, 'functions/platforms/manifests.ts')],
      absWorkingDir: ROOT,
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      logLevel: 'silent',
    });
    const ours = Object.keys(result.metafile.inputs)
      .map((input) => relative(ROOT, resolve(ROOT, input)))
      .filter((input) => input.startsWith('functions/'))
      .sort();
    expect(ours).toEqual(
      [
        'functions/config/env-names.ts',
        ...PLATFORMS.flatMap((p) => [
          `functions/platforms/${p}/credentials.ts`,
          `functions/platforms/${p}/manifest.ts`,
          `functions/platforms/${p}/reply-handle.ts`,
        ]),
        'functions/platforms/manifest.ts',
        'functions/platforms/manifests.ts',
        'functions/platforms/types.ts',
        'functions/shared/zod.ts',
      ].sort(),
    );
  });
});
