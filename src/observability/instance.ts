// What /health and /metrics report beyond the process that answers: the instance as a whole. In one process that is
// the process itself; in a cluster (src/roles/) a serving process asks its primary, which asks the others.

/** The stream processor of this instance, as its processing role reports it. */
export interface ProcessingStatus {
  /** Whether it holds a partition's lease (it processes) or stands by for other instances. */
  leader: boolean;
  /** The partitions of the outbox it holds. */
  partitions: number[];
  /** Whether it evaluates alert rules (holds the alert lease, with every partition's state in place). */
  alerts: boolean;
  /** The process that runs it. */
  pid: number;
}

export interface InstanceView {
  /** Rejects when the processing role does not answer (it is restarting). */
  processing(): Promise<ProcessingStatus>;
  /** Prometheus text for every process of the instance together. */
  metrics(): Promise<string>;
}
