import '#shared/install-stack-source-map';
import { runConnector } from './connector-process';

/**
 * The connector container's entry point (`CMD ["node", "connector.js"]`: this file bundled by esbuild, see
 * lib/constructs/connector-image.ts). Here, beside the Lambda handlers' code, rather than in `bin/`: it is runtime
 * code bundled into a deployed artifact like `functions/handlers/*`, while `bin/` holds the tools run with tsx.
 */
void runConnector(process.env, process, (code) => process.exit(code));
