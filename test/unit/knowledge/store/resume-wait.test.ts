import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import type { RdsDataCommand } from '#knowledge/store/rds-data-sql';
import { DATABASE_RESUMING, waitingForResume } from '#knowledge/store/resume-wait';

function resuming(): Error {
  const error = new Error('A request was cancelled because the Aurora Serverless v2 DB instance was paused.');
  error.name = DATABASE_RESUMING;
  return error;
}

/** A clock that only moves when the code under test sleeps. */
function fakeTime() {
  let now = 0;
  const pauses: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      pauses.push(ms);
      now += ms;
    },
    pauses,
  };
}

const command = new ExecuteStatementCommand({ resourceArn: 'arn', secretArn: 'arn', sql: 'SELECT 1' });

it('sends the same statement again after growing pauses until the instance has resumed', async () => {
  const time = fakeTime();
  const sent: RdsDataCommand[] = [];
  let failures = 4;
  const sender = waitingForResume(
    {
      send: async (c) => {
        sent.push(c);
        if (failures-- > 0) throw resuming();
        return { formattedRecords: '[]' };
      },
    },
    { maxWaitMs: 60_000, sleep: time.sleep, now: time.now },
  );
  await expect(sender.send(command)).resolves.toEqual({ formattedRecords: '[]' });
  expect(sent).toEqual([command, command, command, command, command]);
  expect(time.pauses).toEqual([1000, 2000, 4000, 5000]);
});

it('gives up with the service error once the wait is spent, its last pause cut to what was left', async () => {
  const time = fakeTime();
  let calls = 0;
  const sender = waitingForResume(
    {
      send: async () => {
        calls++;
        throw resuming();
      },
    },
    { maxWaitMs: 4500, sleep: time.sleep, now: time.now },
  );
  await expect(sender.send(command)).rejects.toMatchObject({ name: DATABASE_RESUMING });
  expect(time.pauses).toEqual([1000, 2000, 1500]);
  expect(calls).toBe(4);
});

it('never retries another error, and does not wait at all with a zero budget', async () => {
  const time = fakeTime();
  const denied = Object.assign(new Error('denied'), { name: 'ForbiddenException' });
  const other = waitingForResume(
    {
      send: async () => {
        throw denied;
      },
    },
    { maxWaitMs: 60_000, sleep: time.sleep, now: time.now },
  );
  await expect(other.send(command)).rejects.toBe(denied);

  let calls = 0;
  const base = {
    send: async () => {
      calls++;
      throw resuming();
    },
  };
  expect(waitingForResume(base, { maxWaitMs: 0 })).toBe(base);
  await expect(waitingForResume(base, { maxWaitMs: 0 }).send(command)).rejects.toMatchObject({
    name: DATABASE_RESUMING,
  });
  expect(calls).toBe(1);
  expect(time.pauses).toEqual([]);
});
