import { neutraliseDingTalkMentions } from '#platforms/dingtalk/mentions';
import { neutraliseFeishuMentions } from '#platforms/feishu/mentions';
import { askerMentionId, neutraliseBroadcastAt } from '#platforms/shared/mentions';
import { neutraliseWeComMentions } from '#platforms/wecom/mentions';

describe('neutraliseFeishuMentions', () => {
  it.each([
    ['<at user_id="all">所有人</at>', '＜at user_id="all">所有人＜/at>'],
    ['<at user_id="ou_123">x</at>', '＜at user_id="ou_123">x＜/at>'],
    ['<at id=all></at>', '＜at id=all>＜/at>'],
    ['<at open_id=ou_1></at>', '＜at open_id=ou_1>＜/at>'],
    ['<at ids=ou_1,ou_2></at>', '＜at ids=ou_1,ou_2>＜/at>'],
    ['<at email=a@b.c></at>', '＜at email=a@b.c>＜/at>'],
    ['<AT USER_ID="all"></AT>', '＜AT USER_ID="all">＜/AT>'],
    ['< at user_id="all">', '＜ at user_id="all">'],
    ['<\n at id=all>', '＜\n at id=all>'],
    ['<\u200Bat id=all>', '＜\u200Bat id=all>'],
    ['<a\u200Bt id=all>', '＜a\u200Bt id=all>'],
    ['<\uFEFFat\u2060 id=all>', '＜\uFEFFat\u2060 id=all>'],
    ['&lt;at id=all&gt;', '＜at id=all&gt;'],
    ['&#60;at user_id="all"&#62;', '＜at user_id="all"&#62;'],
    ['&#x3C;at id=all>', '＜at id=all>'],
    ['@all 开会', '＠all 开会'],
    ['@所有人 开会', '＠所有人 开会'],
  ])('%j → %j', (input, expected) => {
    expect(neutraliseFeishuMentions(input)).toBe(expected);
  });

  it.each(['<attr>', '<a href="x">link</a>', '<atom>', '@allen', 'see <b>bold</b>', 'email me@example.com'])(
    'leaves %j alone',
    (input) => {
      expect(neutraliseFeishuMentions(input)).toBe(input);
    },
  );
});

describe('neutraliseBroadcastAt', () => {
  it.each([
    ['@all', '＠all'],
    ['@ALL', '＠ALL'],
    ['@All,', '＠All,'],
    ['@\u200Ball', '＠\u200Ball'],
    ['@a\u200Bll', '＠a\u200Bll'],
    ['@\u2060所有人', '＠\u2060所有人'],
    ['@所有人', '＠所有人'],
    ['@全体成员', '＠全体成员'],
    ['@everyone @here @channel', '＠everyone ＠here ＠channel'],
    ['请@all看', '请＠all看'],
    ['＠all', '＠all'],
  ])('%j → %j', (input, expected) => {
    expect(neutraliseBroadcastAt(input)).toBe(expected);
  });

  it.each(['@allen', '@channels', '@zhangsan', '@hereford', 'a@b.com'])('leaves %j alone', (input) => {
    expect(neutraliseBroadcastAt(input)).toBe(input);
  });
});

describe('neutraliseWeComMentions', () => {
  it.each([
    ['<@zhangsan> 看这里', '＜@zhangsan> 看这里'],
    ['<@all>', '＜＠all>'],
    ['<＠all>', '＜＠all>'],
    ['< @wangwu>', '＜ @wangwu>'],
    ['<\u200B@lisi>', '＜\u200B@lisi>'],
    ['&lt;@lisi&gt;', '＜@lisi&gt;'],
    ['@all', '＠all'],
    ['@所有人', '＠所有人'],
  ])('%j → %j', (input, expected) => {
    expect(neutraliseWeComMentions(input)).toBe(expected);
  });

  it('leaves ordinary angle brackets and markdown alone', () => {
    const text = 'a <b> c, <font color="info">绿</font>, x<y, [link](https://e.com/@me)';
    expect(neutraliseWeComMentions(text)).toBe(text);
  });
});

describe('neutraliseDingTalkMentions', () => {
  it.each([
    ['@all', '＠all'],
    ['@所有人 开会', '＠所有人 开会'],
    ['@\u200Ball', '＠\u200Ball'],
    ['@zhangsan', '@zhangsan'],
  ])('%j → %j', (input, expected) => {
    expect(neutraliseDingTalkMentions(input)).toBe(expected);
  });
});

describe('askerMentionId', () => {
  const shape = /^[A-Za-z0-9_-]{1,64}$/;
  it.each(['all', 'ALL', 'everyone', 'here', 'channel', '所有人', ' all '])('refuses the broadcast name %j', (id) => {
    expect(askerMentionId(id, /.*/)).toBeUndefined();
  });
  it.each(['ou_1"></at><at user_id="all', 'U1> <!channel', '', 'a b'])('refuses an id off the shape: %j', (id) => {
    expect(askerMentionId(id, shape)).toBeUndefined();
  });
  it('accepts a normal id and passes undefined through', () => {
    expect(askerMentionId('ou_abc123', shape)).toBe('ou_abc123');
    expect(askerMentionId(undefined, shape)).toBeUndefined();
  });
});
