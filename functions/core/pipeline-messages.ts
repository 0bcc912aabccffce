/** Fixed texts members see; configurable per deployment (language, tone). */
export interface PipelineMessages {
  readonly contextCleared: string;
  readonly inputBlocked: string;
  readonly modelUnavailable: string;
  readonly emptyQuestion: string;
  /** Appended to the part of a streamed answer already shown when the model stops mid-answer. */
  readonly streamInterrupted: string;
  /**
   * What the stream sweeper writes over a streamed reply no delivery could finish (its worker died and every
   * redelivery failed): the answer is lost, so the member is asked to ask again.
   */
  readonly replyAbandoned: string;
  /**
   * Appended, on its own paragraph, to an answer the fallback model wrote (the primary could not answer), so members
   * know why it may read differently. Never on cached answers: only the primary's are cached.
   */
  readonly answeredByFallback: string;
  /** Heads the numbered list of sources under an answer grounded in skills' passages. */
  readonly sourcesHeading: string;
  /** The first line of `/help`, before the group's commands and skills. */
  readonly helpIntro: string;
  /** `/help`'s lines for the built-in commands. */
  readonly helpReset: string;
  readonly helpCost: string;
  readonly helpHelp: string;
}

export const DEFAULT_MESSAGES: PipelineMessages = {
  contextCleared: '已清除本会话的上下文。Context cleared — the next question starts fresh.',
  inputBlocked: '内容包含敏感信息,请重新表述。Your message contains restricted content; please rephrase.',
  modelUnavailable:
    '抱歉,模型暂时无法回答,请稍后再试。Sorry, the model cannot answer right now — please try again shortly.',
  emptyQuestion: '请在 @ 我之后输入问题。Please type a question after mentioning me.',
  streamInterrupted:
    '(回答中断:模型停止了响应,以上内容不完整,请稍后重试。The answer was cut off: the model stopped responding, so the text above is incomplete — please ask again shortly.)',
  replyAbandoned:
    '(回答中断:这次回答未能完成,请重新提问。The answer was interrupted and could not be completed — please ask your question again.)',
  answeredByFallback: '(由备用模型回答。Answered by the backup model.)',
  sourcesHeading: '来源 Sources:',
  helpIntro: '@ 我并输入问题即可。Mention me with a question. Commands and skills here:',
  helpReset: '清除本会话的上下文 Clear what I remember of this conversation',
  helpCost: '本月用量与费用 Your and this group’s usage this month',
  helpHelp: '显示本帮助 Show this help',
};
