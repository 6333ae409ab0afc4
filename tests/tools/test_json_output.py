"""``--json`` output of the benchmarks: stdout carries the JSON only, logs go to stderr."""
import json
import subprocess
import sys

SCRIPT = r'''
import json, sys
from ikun_mm.utils import stdout_for_result
out = stdout_for_result()
from mmengine.logging import MMLogger
MMLogger.get_current_instance().warning('a log line that must not reach stdout')
print('progress that must not reach stdout')
print(json.dumps({'hota': 59.88}), file=out)
'''


def test_stdout_for_result_keeps_logs_and_prints_off_stdout():
    proc = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                          check=True)
    assert json.loads(proc.stdout) == {'hota': 59.88}
    assert 'a log line that must not reach stdout' in proc.stderr
    assert 'progress that must not reach stdout' in proc.stderr
