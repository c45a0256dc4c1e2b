package prometheus

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of the CPU times of /proc/self/stat: the clock ticks
// per second Linux reports them in on every architecture Go supports.
const userHZ = 100

// readProcess reads the process_* families, read from /proc/self. A
// file that cannot be read leaves its families out.
func (w *runtimeReader) readProcess() {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return
	}
	// The fields after the command, which is in parentheses and may hold
	// anything: state is field 3; utime 14, stime 15; num_threads 20;
	// starttime 22; vsize 23; rss 24 (in pages); minflt 10, majflt 12.
	i := bytes.LastIndex(data, []byte(") "))
	if i < 0 {
		return
	}
	f := strings.Fields(string(data[i+2:]))
	field := func(n int) float64 { // n: the field's number in proc(5)
		if n-3 >= len(f) {
			return 0
		}
		v, _ := strconv.ParseFloat(f[n-3], 64)
		return v
	}
	utime, stime := field(14)/userHZ, field(15)/userHZ
	w.one("process_cpu_seconds_total", "counter", "User and system CPU time the process spent.", utime+stime)
	w.one("process_cpu_seconds_user_total", "counter", "User CPU time the process spent.", utime)
	w.one("process_cpu_seconds_system_total", "counter", "System CPU time the process spent.", stime)
	w.one("process_major_pagefaults_total", "counter", "Page faults that needed a read from disk.", field(12))
	w.one("process_minor_pagefaults_total", "counter", "Page faults served without a read from disk.", field(10))
	w.one("process_num_threads", "gauge", "Operating system threads of the process.", field(20))
	w.one("process_resident_memory_bytes", "gauge", "Resident memory of the process.", field(24)*float64(os.Getpagesize()))
	w.one("process_virtual_memory_bytes", "gauge", "Virtual memory of the process.", field(23))
	w.one("process_start_time_seconds", "gauge", "When the process started, in seconds since the epoch.", float64(startTime.Unix()))
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.one("process_open_fds", "gauge", "Open file descriptors of the process.", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		w.one("process_max_fds", "gauge", "The most file descriptors the process may open.", float64(lim.Cur))
	}
}
