/** Fixed texts members see; configurable per deployment (language, tone). */
export interface PipelineMessages {
  readonly contextCleared: string;
  readonly inputBlocked: string;
  readonly modelUnavailable: string;
  readonly emptyQuestion: string;
}

export const DEFAULT_MESSAGES: PipelineMessages = {
  contextCleared: '已清除本会话的上下文。Context cleared — the next question starts fresh.',
  inputBlocked: '内容包含敏感信息,请重新表述。Your message contains restricted content; please rephrase.',
  modelUnavailable:
    '抱歉,模型暂时无法回答,请稍后再试。Sorry, the model cannot answer right now — please try again shortly.',
  emptyQuestion: '请在 @ 我之后输入问题。Please type a question after mentioning me.',
};
