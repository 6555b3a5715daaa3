package main

import "syscall"

// childAttr makes a soak child die with the soak (it is never left running).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
