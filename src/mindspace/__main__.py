from mindspace.cli import app

app()
