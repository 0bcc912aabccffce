import { definePDFJSModule } from 'unpdf';

/**
 * unpdf loads PDF.js with a dynamic `import('unpdf/pdfjs')`, which jest's CommonJS sandbox refuses without
 * --experimental-vm-modules. Tests import the same bundle through Node's own ESM loader (a vm script allowed to use
 * the main context's loader) and hand it to unpdf; the code under test is unchanged. Call in beforeAll.
 */
export async function useNativePdfjs(): Promise<void> {
  const vm = process.getBuiltinModule('node:vm');
  const importNatively: (specifier: string) => Promise<unknown> = new vm.Script('(specifier) => import(specifier)', {
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }).runInThisContext();
  await definePDFJSModule(() => importNatively('unpdf/pdfjs'));
}
