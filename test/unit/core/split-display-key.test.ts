import { displayKey, splitDisplayKey } from '#core/key-part';

/** The cost report names groups by `displayKey` and its CSV splits them back into ids: the two must be inverses. */

const ODD_PARTS: readonly (readonly string[])[] = [
  ['slack', 'T1', 'C1'],
  ['slack', 'T#1', 'C#ops#night'],
  ['feishu', '100%', 'a%23b'],
  ['dingtalk', '%25', '%2523'],
  ['wecom', '%', '#'],
  ['api', '', 'g'],
  ['api', '%%##', '#%#%'],
  ['slack', 'team🚀', '技术部群'],
];

test.each(ODD_PARTS)('splitDisplayKey(displayKey([%j, %j, %j])) gives the ids back', (...parts) => {
  const key = displayKey(parts);
  expect(key.split('#')).toHaveLength(parts.length);
  expect(splitDisplayKey(key)).toEqual(parts);
});

test('a literal "%23" in an id stays "%23", where a naive unescape would turn it into "#"', () => {
  expect(displayKey(['feishu', 'a%23b'])).toBe('feishu#a%2523b');
  expect(splitDisplayKey('feishu#a%2523b')).toEqual(['feishu', 'a%23b']);
});
