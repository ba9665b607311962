"""The calendar context: the firm's business calendar (working days, holidays, make-up working
days, working hours) and the working-time arithmetic every SLA and "working days" figure uses."""
