"""Print the mutation score per module from `mutmut results --all true` (run after `mutmut run`)."""

import re
import subprocess
import sys
from collections import Counter, defaultdict

# A line reads "    events.rules.x_active_at__mutmut_3: survived"; the module is what precedes ".x_" or ".xǁ".
LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x[_ǁ]\S*: (?P<status>.+)$")
COUNTED = ("killed", "timeout", "survived", "no tests")


def main() -> int:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    by_module: dict[str, Counter] = defaultdict(Counter)
    for line in done.stdout.splitlines():
        if match := LINE.match(line):
            by_module[match["module"]][match["status"].strip()] += 1
    total = Counter()
    header = ("module", "killed", "timeout", "survived", "no tests", "unrun", "score")
    print("{:28} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6}".format(*header))
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        print(_row(module, counts))
    print(_row("all", total))
    return 0


def _row(name: str, counts: Counter) -> str:
    caught = counts["killed"] + counts["timeout"]
    judged = sum(counts[status] for status in COUNTED)
    score = f"{100 * caught / judged:.0f} %" if judged else "-"
    unrun = sum(n for status, n in counts.items() if status not in COUNTED)
    return (
        f"{name:28} {counts['killed']:>7} {counts['timeout']:>7} {counts['survived']:>8}"
        f" {counts['no tests']:>8} {unrun:>6} {score:>6}"
    )


if __name__ == "__main__":
    sys.exit(main())
