#!/usr/bin/env node
import '../dist/ctlogd.mjs';
