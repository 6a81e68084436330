"""Pasar's job functions, which RQ runs: each imports the domain code it works with.

The queue mechanism (`enqueue`, the worker, the schedule) is `app.background`; domain code
enqueues these jobs by their dotted path ("jobs.email.send_email") and never imports this
package, so dependencies point one way: jobs → domain → app.background.
"""
