import { maskPii, PII_KINDS, PII_LABELS, type PiiMaskResult } from '#core/safety/pii';

// Issue 13: PII written with full-width characters, odd separators or zero-width characters must be masked like its
// ASCII form, in place, leaving the rest of the original text untouched. Every positive case here went through
// unmasked before the detection view existed.

const findingsOf = (result: PiiMaskResult): Record<string, number> =>
  Object.fromEntries(result.findings.map((f) => [f.kind, f.count]));

describe('maskPii: phone numbers in hostile Unicode', () => {
  it.each([
    ['full-width digits', '电话１３８１２３４５６７８谢谢'],
    ['ideographic spaces', '电话138\u30001234\u30005678谢谢'],
    ['full-width digits and ideographic spaces', '电话１３８\u3000１２３４\u3000５６７８谢谢'],
    ['ASCII dots', '电话138.1234.5678谢谢'],
    ['full-width dots', '电话138．1234．5678谢谢'],
    ['ideographic full stops', '电话138。1234。5678谢谢'],
    ['middle dots', '电话138·1234·5678谢谢'],
    ['no-break spaces', '电话138\u00a01234\u00a05678谢谢'],
    ['narrow no-break and thin spaces', '电话138\u202f1234\u20095678谢谢'],
    ['full-width hyphens', '电话138－1234－5678谢谢'],
    ['en dashes', '电话138–1234–5678谢谢'],
    ['spaced hyphens', '电话138 - 1234 - 5678谢谢'],
    ['zero-width spaces between digits', '电话138\u200b1234\u200d5678谢谢'],
    ['soft hyphen and word joiner', '电话138\u00ad1234\u20605678谢谢'],
    ['full-width +86 prefix', '电话＋８６　１３８　１２３４　５６７８谢谢'],
    ['mathematical bold digits (surrogate pairs)', '电话𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖谢谢'],
  ])('masks a mobile number written with %s', (_name, text) => {
    expect(maskPii(text)).toEqual({ text: '电话[手机号]谢谢', findings: [{ kind: 'phone', count: 1 }] });
  });

  it('keeps the surrounding original text exactly, including full-width punctuation', () => {
    expect(maskPii('请拨：１３８－１２３４－５６７８，或　１３９　１２３４　５６７８。').text).toBe(
      '请拨：[手机号]，或　[手机号]。',
    );
  });

  it('keeps trailing digits as ASCII when the number was written in full-width digits', () => {
    expect(maskPii('电话１３８１２３４５６７８', { keepLastDigits: { phone: 4 } }).text).toBe('电话[手机号 ****5678]');
  });

  it('masks a number in a numbered list and one followed by an ideographic full stop and a digit', () => {
    expect(maskPii('1.13812345678').text).toBe('1.[手机号]');
    expect(maskPii('13812345678。2楼').text).toBe('[手机号]。2楼');
  });

  it('covers a strike-through mark on the last digit, so no mark is left dangling', () => {
    expect(maskPii('tel 13812345678\u0336 ok').text).toBe('tel [手机号] ok');
  });
});

describe('maskPii: resident identity numbers in hostile Unicode', () => {
  it.each([
    ['full-width digits and Ｘ', '１１０１０５１９４９１２３１００２Ｘ'],
    ['full-width digits and ｘ', '１１０１０５１９４９１２３１００２ｘ'],
    ['6-8-4 groups with spaces', '110105 19491231 002X'],
    ['6-8-4 groups with hyphens', '110105-19491231-002X'],
    ['6-8-4 groups with ideographic spaces', '110105\u300019491231\u3000002X'],
    ['6-8-4 full-width groups with full-width hyphens', '１１０１０５－１９４９１２３１－００２Ｘ'],
    ['zero-width characters inside', '1101051949\u200b1231002X'],
  ])('masks an ID written with %s', (_name, id) => {
    expect(maskPii(`身份证${id}。`)).toEqual({ text: '身份证[身份证号]。', findings: [{ kind: 'idCard', count: 1 }] });
  });

  it('keeps trailing characters of a full-width ID as ASCII', () => {
    expect(maskPii('ID １１０１０５１９４９１２３１００２Ｘ', { keepLastDigits: { idCard: 2 } }).text).toBe(
      'ID [身份证号 ****2X]',
    );
  });

  it('still validates the checksum of grouped and full-width forms', () => {
    for (const id of ['110105 19491231 0021', '１１０１０５１９４９１２３１００２１', '440300-19900307-1235']) {
      expect(maskPii(`证件${id}`, { kinds: ['idCard'] }).findings).toEqual([]);
    }
  });
});

describe('maskPii: e-mail addresses in hostile Unicode', () => {
  it.each([
    ['a full-width @', 'zhang.san＠example.com'],
    ['full-width letters throughout', 'ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ'],
    ['an ideographic full stop in the domain', 'zhang@example。com'],
    ['a small commercial at', 'zhang﹫example.com'],
    ['a zero-width space inside', 'zhang\u200b@example.com'],
  ])('masks an address with %s', (_name, address) => {
    expect(maskPii(`邮箱：${address}，谢谢`)).toEqual({
      text: '邮箱：[邮箱]，谢谢',
      findings: [{ kind: 'email', count: 1 }],
    });
  });

  it('does not swallow a sentence-ending ideographic full stop', () => {
    expect(maskPii('写信到zhang＠example.com。谢谢').text).toBe('写信到[邮箱]。谢谢');
  });
});

describe('maskPii: passports and Hong Kong/Macau travel permits', () => {
  it.each([
    ['a mainland passport, E + 8 digits', 'E12345678'],
    ['a mainland passport, G + 8 digits', 'G12345678'],
    ['a mainland passport, E + letter + 7 digits', 'EA1234567'],
    ['a travel permit for HK/Macau residents, H + 8 digits', 'H12345678'],
    ['a travel permit for HK/Macau residents, M + 10 digits', 'M1234567890'],
    ['an exit-entry permit to HK/Macau, C + 8 digits', 'C12345678'],
    ['an exit-entry permit to HK/Macau, C + letter + 7 digits', 'CE1234567'],
    ['a number in lower case', 'e12345678'],
    ['a number in full-width characters', 'Ｅ１２３４５６７８'],
    ['a number with a zero-width space inside', 'G1234\u200b5678'],
  ])('masks %s', (_name, number) => {
    expect(maskPii(`证件号：${number}。`)).toEqual({
      text: '证件号：[护照/通行证号]。',
      findings: [{ kind: 'passport', count: 1 }],
    });
  });

  it('uses the English label', () => {
    expect(maskPii('passport no. E12345678, thanks', { language: 'en' }).text).toBe('passport no. [PASSPORT], thanks');
  });

  it.each([
    ['7 digits after E', 'E1234567'],
    ['9 digits after E', 'E123456789'],
    ['9 digits after H', 'H123456789'],
    ['11 digits after M', 'M12345678901'],
    ['7 digits after C', 'C1234567'],
    ['a letter glued before', 'AE12345678'],
    ['a letter glued after', 'E12345678a'],
    ['an underscore glued before', 'x_G12345678'],
    ['a prefix letter that no document uses', 'X12345678'],
    ['a digit in place of the second letter', 'E012345678'],
  ])('leaves a token with %s alone', (_name, token) => {
    expect(maskPii(`code ${token} end`, { kinds: ['passport'] }).findings).toEqual([]);
  });
});

describe('maskPii: ordinary numbers are not PII (no over-masking)', () => {
  it.each([
    ['version strings', '版本 1.2.3、v10.13.0、２．１．０'],
    ['dates', '日期 2024.01.15、2024-01-15、２０２４年１月１５日、２０２４．０１．１５'],
    ['prices', '价格 ¥1,380.00、１３８．５元、US$ 1,234.56'],
    ['times', '时间 １２：３０：４５'],
    ['short and long digit runs', '数量 １２８１２３４５６７、编号 138123456789、１０１３８１２３４５６７'],
    ['numbers that are not mobile numbers', '座机 010-1234-5678、１２８　１２３４　５６７８'],
    ['dotted runs that are not IP addresses', '序号 256．1．1．1'],
  ])('%s stay as written', (_name, text) => {
    expect(maskPii(text)).toEqual({ text, findings: [] });
  });
});

describe('maskPii: mixed hostile text', () => {
  it('masks every kind in one message and counts them', () => {
    const result = maskPii(
      '电话１３８　１２３４　５６７８，身份证110105 19491231 002X，邮箱ｌｉ＠ｑｑ．ｃｏｍ，护照Ｇ１２３４５６７８，IP １０．０．０．１',
    );
    expect(result.text).toBe('电话[手机号]，身份证[身份证号]，邮箱[邮箱]，护照[护照/通行证号]，IP [IP地址]');
    expect(findingsOf(result)).toEqual({ phone: 1, idCard: 1, email: 1, passport: 1, ipv4: 1 });
  });

  it('has a label for every kind in both languages', () => {
    for (const kind of PII_KINDS) {
      expect(PII_LABELS.zh[kind]).toEqual(expect.any(String));
      expect(PII_LABELS.en[kind]).toEqual(expect.any(String));
    }
  });
});
