import { withDeadline } from '#knowledge/extract/deadline';
import { DocumentRejected } from '#knowledge/extract/document-rejected';
import { rejectionOf } from './rejection';

describe('withDeadline', () => {
  it('settles with the work result within the budget', async () => {
    await expect(
      withDeadline('a.pdf', 1000, async (deadline) => {
        deadline.check();
        return 'done';
      }),
    ).resolves.toBe('done');
  });

  it('passes the work failure through', async () => {
    const failure = new DocumentRejected('corrupt', 'a.pdf', 'a.pdf: broken');
    expect(await rejectionOf(withDeadline('a.pdf', 1000, () => Promise.reject(failure)))).toBe(failure);
  });

  it('check() throws timeout once the clock passes the budget, and aborts the signal', async () => {
    let clock = 1000;
    let signal: AbortSignal | undefined;
    const work = async (deadline: Parameters<Parameters<typeof withDeadline>[2]>[0]) => {
      signal = deadline.signal;
      clock += 50;
      deadline.check(); // exactly at the budget: still in time
      clock += 1;
      deadline.check();
      return 'unreachable';
    };
    const error = await rejectionOf(withDeadline('doc.docx', 50, work, () => clock));
    expect([error.code, error.message]).toEqual([
      'timeout',
      'doc.docx: extraction took longer than the limit of 50 ms',
    ]);
    expect(signal?.aborted).toBe(true);
  });

  it('rejects timeout by the timer when the work never yields a result, and aborts the signal', async () => {
    let signal: AbortSignal | undefined;
    const error = await rejectionOf(
      withDeadline('stuck.pdf', 5, (deadline) => {
        signal = deadline.signal;
        return new Promise<never>(() => undefined);
      }),
    );
    expect(error.code).toBe('timeout');
    expect(signal?.aborted).toBe(true);
  });

  it('turns a synchronous throw of the work into a rejection', async () => {
    const failure = new DocumentRejected('corrupt', 'a.docx', 'a.docx: broken');
    const work = (): Promise<never> => {
      throw failure;
    };
    expect(await rejectionOf(withDeadline('a.docx', 1000, work))).toBe(failure);
  });
});
