/**
 * The one zod import for the whole project (`import * as z from '#shared/zod'`): zod's tree-shakable `zod/mini` API
 * with English error messages.
 *
 * Why mini: classic zod attaches every method to every schema instance at construction and its module is about
 * 100 KB minified; the webhook builds its schemas at module scope, so that was a third of its cold start.
 * `zod/mini` has the same core (parsing, issues, types) with functional modifiers (`z.optional(s)`,
 * `s.check(z.minLength(1))`), and loads no locale by default, so English is configured here, once, before any
 * schema in the project can parse: config errors and 400 reasons keep zod's messages ("Too small: expected number to
 * be >=5").
 */
import { config } from 'zod/mini';
import { en } from 'zod/v4/locales';

config(en());

export * from 'zod/mini';
