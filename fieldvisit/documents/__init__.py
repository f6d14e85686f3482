"""What the office prints and downloads: the monthly summary, the household booklet, door
plates, the visits spreadsheet, and their parts (PDF rendering, charts, QR codes, cell
values), made in the background by ``jobs``."""
