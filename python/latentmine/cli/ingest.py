"""``latentmine ingest``: read labels for the pending suggestions back into a run and finish the round."""
from __future__ import annotations


def register(subparsers):
    parser = subparsers.add_parser("ingest", help="add hand-made labels for the pending suggestions to a run",
                                   description="Read LABELS_DIR/ID.npy for every pending suggestion, check "
                                               "ids and shapes, add them to the run, train and evaluate F.")
    parser.add_argument("run_dir", metavar="RUN", help="run folder")
    parser.add_argument("labels", metavar="LABELS_DIR", help="folder with one ID.npy per suggestion")
    parser.add_argument("--version", default="human", help="labeller version recorded in the provenance")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..loop.human import read_labels
    from ..loop.session import open_run, summary_table

    loop = open_run(args.run_dir, labeller="none")
    r = loop.next_round()
    if loop.store.stage_of(r) != 1:
        raise ValueError(f"{args.run_dir}: no suggestions wait for labels (run `latentmine suggest` first)")
    arrays, meta = loop.store.load_proposals(r)
    labels = read_labels(args.labels, meta["ids"], loop.task.label_array_shape(1, arrays["masks"].shape[1:])[1:])
    row = loop.ingest(labels, version=args.version)
    print(summary_table([row], metrics=loop.task.loop_panels))
    print(f"round {r}: {len(labels)} label(s) added; the run now has {len(loop.train_set)} labelled samples")
    return 0
