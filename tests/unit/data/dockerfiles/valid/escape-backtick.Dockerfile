# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
WORKDIR C:\app
COPY testfile.txt C:\
RUN dir c:\ `
    && echo done
ENV DIR=C:\Program` Files\App
LABEL path="C:\data"
