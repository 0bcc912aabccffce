/**
 * The emulated platforms' member directory (what Slack's `users.info` and the other directory APIs answer about a
 * member), keyed `<platform>:<userId>`. Members not in it have an empty entry (no title, no department), as most
 * real members do until an administrator fills their profile. Tests and the sandbox set entries directly.
 */
export interface EmulatedDirectoryEntry {
  readonly title?: string;
  readonly department?: string;
  /**
   * DingTalk and WeCom only: the user API answers this `errcode` for the member instead of their record, e.g.
   * `DIRECTORY_ERRCODES.dingtalk.noSuchMember` or `.noPermission` (a member outside the app's contact scope).
   */
  readonly errcode?: number;
}

export const EMULATED_DIRECTORY = new Map<string, EmulatedDirectoryEntry>();

export function directoryEntry(platform: string, userId: string): EmulatedDirectoryEntry {
  return EMULATED_DIRECTORY.get(`${platform}:${userId}`) ?? {};
}

/** The `errcode`s the DingTalk and WeCom emulators answer, as their platforms document them. */
export const DIRECTORY_ERRCODES = {
  /** 60121 找不到该用户 (33012 is the other documented "invalid userid"); 60011 no permission; 60003 no department. */
  dingtalk: { noSuchMember: 60121, noPermission: 60011, noSuchDepartment: 60003 },
  /** 60111 UserID不存在; 60011 指定的成员/部门/标签参数无权限; 60020 IP not trusted; 60003 部门ID不存在. */
  wecom: { noSuchMember: 60111, noPermission: 60011, untrustedIp: 60020, noSuchDepartment: 60003 },
} as const;

/**
 * Departments as DingTalk and WeCom address them, by id: 1 is the organisation itself (where a member without a
 * department sits), the rest a small fixed tree; a department named in an entry and not in it gets the next id.
 */
const DEPARTMENTS = new Map<number, string>([
  [1, 'GroupGate Sandbox'],
  [2, 'Engineering'],
  [3, 'Sales'],
  [4, '研发部'],
]);

/** The id of the department an entry names (1, the organisation, when it names none). */
export function emulatedDepartmentId(name: string | undefined): number {
  if (name === undefined) return 1;
  for (const [id, known] of DEPARTMENTS) if (known === name) return id;
  const id = Math.max(...DEPARTMENTS.keys()) + 1;
  DEPARTMENTS.set(id, name);
  return id;
}

export function emulatedDepartmentName(id: number): string | undefined {
  return DEPARTMENTS.get(id);
}
