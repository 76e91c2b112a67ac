from ganbench.cli import app

app()
