import { ConfigError } from '#core/errors';
import { createPiiMasker, maskPii, type PiiMaskResult } from '#core/safety/pii';

const VALID_ID = '440300199003071234';
const VALID_ID_X = '11010519491231002X';
const VALID_ID_LEAP_DAY = '440300200002294562'; // 2000-02-29
const ID_BAD_CHECKSUM = '440300199003071235';
const ID_BAD_DATE_FEB_29 = '44030020010229456X'; // checksum right, 2001 is not a leap year
const ID_BAD_MONTH = '440300199013321233'; // checksum right, month 13

const findingsOf = (result: PiiMaskResult): Record<string, number> =>
  Object.fromEntries(result.findings.map((f) => [f.kind, f.count]));

describe('maskPii: mainland mobile numbers', () => {
  it.each([
    ['13812345678', '[手机号]'],
    ['+8613812345678', '[手机号]'],
    ['+86 138 1234 5678', '[手机号]'],
    ['+86-138-1234-5678', '[手机号]'],
    ['(+86)139 1234 5678', '[手机号]'],
    ['008615912345678', '[手机号]'],
    ['8619912345678', '[手机号]'],
  ])('masks %s', (input, expected) => {
    expect(maskPii(input)).toEqual({ text: expected, findings: [{ kind: 'phone', count: 1 }] });
  });

  it('masks numbers embedded in Chinese text without eating the Chinese around them', () => {
    expect(maskPii('我的电话是13812345678，明天联系138-1234-5678吧').text).toBe(
      '我的电话是[手机号]，明天联系[手机号]吧',
    );
  });

  it('leaves numbers alone that are not mobile numbers or sit inside a longer digit run', () => {
    for (const text of ['12812345678', '1381234567', '订单号 2213812345678901', '编号138123456789', '0101381234567']) {
      expect(maskPii(text, { kinds: ['phone'] })).toEqual({ text, findings: [] });
    }
  });
});

describe('maskPii: resident identity numbers (GB 11643)', () => {
  it('masks valid numbers, with a digit or X as check character, next to Chinese text', () => {
    const result = maskPii(`身份证${VALID_ID}，另一个${VALID_ID_X.toLowerCase()}和${VALID_ID_LEAP_DAY}`);
    expect(result.text).toBe('身份证[身份证号]，另一个[身份证号]和[身份证号]');
    expect(result.findings).toEqual([{ kind: 'idCard', count: 3 }]);
  });

  it.each([
    ['a bad checksum', ID_BAD_CHECKSUM],
    ['29 February of a non-leap year', ID_BAD_DATE_FEB_29],
    ['month 13', ID_BAD_MONTH],
  ])('does not mask a number with %s as an ID', (_reason, id) => {
    expect(maskPii(`证件 ${id}`, { kinds: ['idCard'] })).toEqual({ text: `证件 ${id}`, findings: [] });
  });

  it('does not mask a valid ID that is part of a longer digit run', () => {
    const text = `9${VALID_ID}`;
    expect(maskPii(text, { kinds: ['idCard'] }).findings).toEqual([]);
  });
});

describe('maskPii: bank cards', () => {
  it.each([
    ['6222021234567894'],
    ['6212261102009876544'],
    ['4111 1111 1111 1111'],
    ['4111-1111-1111-1111'],
    ['3782 822463 10005'],
  ])('masks Luhn-valid %s', (card) => {
    expect(maskPii(`卡号${card}。`)).toEqual({ text: '卡号[银行卡号]。', findings: [{ kind: 'bankCard', count: 1 }] });
  });

  it('does not mask Luhn-invalid numbers', () => {
    for (const card of ['6222021234567890', '4111-1111-1111-1112', '4111 1111 1111 1113']) {
      expect(maskPii(`卡号${card}`).findings).toEqual([]);
    }
  });

  it('keeps the last digits only when configured', () => {
    expect(maskPii('卡号 4111 1111 1111 1111', { keepLastDigits: { bankCard: 4 } }).text).toBe(
      '卡号 [银行卡号 ****1111]',
    );
    expect(maskPii(`ID ${VALID_ID_X}`, { keepLastDigits: { idCard: 2 } }).text).toBe('ID [身份证号 ****2X]');
    expect(maskPii('call +86 138 1234 5678', { language: 'en', keepLastDigits: { phone: 4 } }).text).toBe(
      'call [PHONE ****5678]',
    );
  });
});

describe('maskPii: e-mail and IP addresses', () => {
  it('masks e-mail addresses, including ones whose local part holds a phone number', () => {
    const result = maskPii('写信给 zhang.san+hr@example.com.cn 或13812345678@qq.com。');
    expect(result.text).toBe('写信给 [邮箱] 或[邮箱]。');
    expect(findingsOf(result)).toEqual({ email: 2 });
  });

  it('masks valid IPv4 addresses only', () => {
    const result = maskPii('服务器192.168.1.10和10.0.0.1,不是256.1.1.1,也不是版本1.2.3.4.5', { language: 'en' });
    expect(result.text).toBe('服务器[IP]和[IP],不是256.1.1.1,也不是版本1.2.3.4.5');
    expect(findingsOf(result)).toEqual({ ipv4: 2 });
  });

  it('masks IPv6 addresses in full, compressed and IPv4-mapped forms', () => {
    const result = maskPii('a 2001:0db8:85a3:0000:0000:8a2e:0370:7334, b fe80::1, c ::ffff:192.0.2.1.', {
      language: 'en',
    });
    expect(result.text).toBe('a [IP], b [IP], c [IP].');
    expect(findingsOf(result)).toEqual({ ipv6: 3 });
  });

  it('leaves times, C++ scopes and invalid colon runs alone', () => {
    const text = 'at 12:30:45 use std::vector or dead::beef, not 1:2:3:4:5:6:7:8:9';
    expect(maskPii(text)).toEqual({ text, findings: [] });
  });
});

describe('maskPii: options and mixed text', () => {
  const mixed = `电话13812345678 邮箱a@b.co 身份证${VALID_ID} 卡4111111111111111 IP 8.8.8.8`;

  it('counts every kind in a stable order', () => {
    const result = maskPii(mixed);
    expect(result.text).toBe('电话[手机号] 邮箱[邮箱] 身份证[身份证号] 卡[银行卡号] IP [IP地址]');
    expect(result.findings).toEqual([
      { kind: 'email', count: 1 },
      { kind: 'idCard', count: 1 },
      { kind: 'phone', count: 1 },
      { kind: 'bankCard', count: 1 },
      { kind: 'ipv4', count: 1 },
    ]);
  });

  it('detects only the kinds switched on and uses custom labels', () => {
    const mask = createPiiMasker({ kinds: ['phone', 'email'], labels: { phone: 'TEL' } });
    const result = mask(mixed);
    expect(result.text).toBe(`电话[TEL] 邮箱[邮箱] 身份证${VALID_ID} 卡4111111111111111 IP 8.8.8.8`);
    expect(findingsOf(result)).toEqual({ phone: 1, email: 1 });
  });

  it('returns the same string when nothing is found', () => {
    expect(maskPii('今天天气不错 no numbers here')).toEqual({ text: '今天天气不错 no numbers here', findings: [] });
  });

  it('refuses bad options, listing every problem', () => {
    expect(() => createPiiMasker({ keepLastDigits: { phone: 1.5 } })).toThrow(ConfigError);
    let caught: unknown;
    try {
      createPiiMasker({ kinds: ['ssn' as never], keepLastDigits: { bankCard: 6 } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      "pii.kinds: unknown kind 'ssn'",
      'pii.keepLastDigits.bankCard must be an integer 0–4',
    ]);
  });

  it('stays linear on adversarial input (long runs without a match)', () => {
    const adversarial = `${'a.'.repeat(50_000)}${'1'.repeat(50_000)}${':a'.repeat(50_000)}${'1.'.repeat(50_000)}`;
    const started = process.hrtime.bigint();
    const result = maskPii(adversarial);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(result.findings).toEqual([]);
    // A quadratic pattern would take minutes on 400k characters; linear work is well under a second.
    expect(elapsedMs).toBeLessThan(2_000);
  });
});
