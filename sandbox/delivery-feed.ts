import type { EmulatedDelivery } from './platform-emulator/types';

/**
 * Live feed of deliveries for the web page: every recorded reply and every change to one (a streamed reply growing)
 * is published to the subscribers (`GET /_sandbox/stream`, server-sent events).
 */
export class DeliveryFeed {
  private readonly subscribers = new Set<(delivery: EmulatedDelivery) => void>();

  publish(delivery: EmulatedDelivery): void {
    for (const subscriber of this.subscribers) subscriber(delivery);
  }

  /** Returns the unsubscribe function. */
  subscribe(subscriber: (delivery: EmulatedDelivery) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
}
