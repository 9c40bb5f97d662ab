// The alerts library the reconciler uses: see dispatcher.ts for the outbox contract.
export { AlertDispatcher, type AlertDispatcherOptions, type Sender } from './dispatcher.ts';
export { ALERT_DELIVERY, addEntry, alertDeliveryCondition, closeEntry, isPending, markDelivered, markRefused, markRetrying, nextPending, pruneOutbox, withAlertDelivery, type DeliveryMark, type FailureMark, type RefusalMark } from './outbox.ts';
export { DEFAULT_RECEIVER_NAME, PAGERDUTY_DEFAULT_KEY, parseDefaultReceiver, readSecretUrl, readSecretValue, receiverNames, redactUrl, resolveReceivers, type DefaultReceiver, type Receiver, type ReceiverType } from './receivers.ts';
export {
  describeFrequency,
  formatInstant,
  headline,
  messageFacts,
  pagerDutyDedupKey,
  pagerDutySeverity,
  PAGERDUTY_SEVERITY,
  renderAlertMessage,
  renderEmail,
  renderPagerDutyEvent,
  renderSlackMessage,
  renderTemplate,
  renderWebhookPayload,
  templateVars,
  type EmailMessage,
  type PagerDutyEvent,
  type PagerDutySeverity,
  type RenderContext,
  type SlackMessage,
  type WebhookPayload,
} from './render.ts';
export { classifyHttp, classifyNetworkError, parseRetryAfter, SLACK_ERRORS, type SendOutcome } from './classify.ts';
export { sendSlack, DEFAULT_SEND_TIMEOUT_MS, type SendOptions } from './slack.ts';
export { sendWebhook } from './webhook.ts';
export { sendPagerDuty, describePagerDutyAnswer } from './pagerduty.ts';
export { sendEmail, classifySmtpError, type EmailDelivery } from './email.ts';
export { DEFAULT_PAGERDUTY_EVENTS_URL, DEFAULT_RECEIVER_SETTINGS, receiverSettings, type ReceiverSettings, type SmtpSettings } from './receiver-config.ts';
