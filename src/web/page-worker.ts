// The worker thread side of page-pool.ts: a mail's page built from what it is sent (view.ts), its HTML
// sanitized (page.ts); the finished page sent back.
import { answerJobs } from "../mail/pool-worker.ts";
import { renderMailPage } from "./page.ts";
import { readMailView, type PageSource } from "./view.ts";

answerJobs(async (payload) => {
  const source = payload as PageSource;
  return renderMailPage(readMailView(source), source.token);
});
